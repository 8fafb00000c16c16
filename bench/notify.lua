-- POST /alipay/notify, each request a different order's signed notification (BODIES file).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"

local bodies = {}
for line in io.lines(os.getenv("BODIES")) do bodies[#bodies + 1] = line end

local threads = {}
local next_id = 0
function setup(thread)
  thread:set("offset", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end
local stride = tonumber(os.getenv("THREADS") or "2")
function init(args) i = offset - stride; success = 0; other = 0 end
function request()
  -- Thread k sends bodies k, k+stride, k+2*stride...: no body is sent twice until all are used.
  i = i + stride
  local body = bodies[(i % #bodies) + 1]
  return wrk.format(nil, nil, nil, body)
end
function response(status, headers, body)
  if body == "success" then success = success + 1 else other = other + 1 end
end
function done(summary, latency, requests)
  local s, o = 0, 0
  for _, t in ipairs(threads) do s = s + t:get("success"); o = o + t:get("other") end
  io.write(string.format("success=%d other=%d\n", s, o))
end
