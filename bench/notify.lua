-- POST the URL's path (the shop's /alipay/notify, or the tutorials' /order/success) with one
-- signed notification per line of BODIES, each a first notification for a distinct unpaid
-- order: thread k of THREADS sends lines k, k+THREADS, ... and never a line twice while the
-- file lasts (past its end it starts over: those are counted as repeats).
-- Prints: RESULT good=N other=N good_per_s=X p50_ms=X p99_ms=X repeats=N
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded; charset=utf-8"

local bodies = {}
for line in io.lines(os.getenv("BODIES")) do
  if line ~= "" then bodies[#bodies + 1] = line end
end

local threads = {}
local next_id = 0
function setup(thread)
  thread:set("offset", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end
local stride = tonumber(os.getenv("THREADS") or "2")
function init(args) i = offset - stride; good = 0; other = 0; repeats = 0; sample = nil end
function request()
  i = i + stride
  if i >= #bodies then repeats = repeats + 1 end
  return wrk.format(nil, nil, nil, bodies[(i % #bodies) + 1])
end
function response(status, headers, body)
  if status >= 200 and status < 300 and body == "success" then
    good = good + 1
  else
    other = other + 1
    if not sample then sample = status .. " " .. string.sub(body, 1, 200) end
  end
end
function done(summary, latency, requests)
  local g, o, r, s = 0, 0, 0, nil
  for _, t in ipairs(threads) do
    g = g + t:get("good"); o = o + t:get("other"); r = r + t:get("repeats"); s = s or t:get("sample")
  end
  io.write(string.format("RESULT good=%d other=%d good_per_s=%.1f p50_ms=%.2f p99_ms=%.2f repeats=%d\n",
    g, o, g / (summary.duration / 1e6), latency:percentile(50) / 1000, latency:percentile(99) / 1000, r))
  if s then io.write("first other answer: " .. s .. "\n") end
end
