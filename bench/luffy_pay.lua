-- POST PAY_PATH (default /order/pay, the tutorials' Luffy route) with PAY_BODY and
-- `Authorization: AUTH_SCHEME TOKEN`. A good answer is a 2xx whose body holds a pay link
-- ("gateway.do?"); anything else (a 4xx is not an order) is counted apart.
-- Prints: RESULT good=N other=N good_per_s=X p50_ms=X p99_ms=X
wrk.method = "POST"
wrk.path = os.getenv("PAY_PATH") or "/order/pay"
wrk.body = os.getenv("PAY_BODY")
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = (os.getenv("AUTH_SCHEME") or "Bearer") .. " " .. os.getenv("TOKEN")

local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) good = 0; other = 0; sample = nil end
function response(status, headers, body)
  if status >= 200 and status < 300 and string.find(body, "gateway.do?", 1, true) then
    good = good + 1
  else
    other = other + 1
    if not sample then sample = status .. " " .. string.sub(body, 1, 200) end
  end
end
function done(summary, latency, requests)
  local g, o, s = 0, 0, nil
  for _, t in ipairs(threads) do g = g + t:get("good"); o = o + t:get("other"); s = s or t:get("sample") end
  io.write(string.format("RESULT good=%d other=%d good_per_s=%.1f p50_ms=%.2f p99_ms=%.2f\n",
    g, o, g / (summary.duration / 1e6), latency:percentile(50) / 1000, latency:percentile(99) / 1000))
  if s then io.write("first other answer: " .. s .. "\n") end
end
