-- wrk script for bench/gateway.py: POST a fixed body with fixed headers, and print a JSON summary.
--
-- Environment (set by bench/gateway.py):
--   BENCH_BODY     path of a file holding the request body
--   BENCH_HEADERS  path of a file with one "Name: value" header per line
--   BENCH_NONCE    optional: make every body unique by replacing the marker BENCH_MARK in it with
--                  "<nonce>.<thread>.<counter>" (a response cache then always misses)
-- At the end it prints one line "BENCH_JSON {...}" with counts, errors and latency percentiles (us).

local function slurp(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("*a")
  f:close()
  return s
end

wrk.method = "POST"
wrk.body = slurp(os.getenv("BENCH_BODY"))
for line in slurp(os.getenv("BENCH_HEADERS")):gmatch("[^\r\n]+") do
  local name, value = line:match("^([^:]+):%s*(.*)$")
  if name then wrk.headers[name] = value end
end

local nonce, mark = os.getenv("BENCH_NONCE"), os.getenv("BENCH_MARK")
if nonce and mark then
  local i, j = wrk.body:find(mark, 1, true)
  if i then
    local pre, post = wrk.body:sub(1, i - 1), wrk.body:sub(j + 1)
    local counter = 0
    local threads = 0
    function setup(thread)
      threads = threads + 1
      thread:set("tid", threads)
    end
    function request()
      counter = counter + 1
      return wrk.format(nil, nil, nil, pre .. nonce .. "." .. (tid or 0) .. "." .. counter .. post)
    end
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  local out = string.format(
    '{"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"err_connect":%d,"err_read":%d,"err_write":%d,"err_status":%d,"err_timeout":%d,' ..
    '"lat_min":%d,"lat_mean":%.1f,"lat_max":%d,"lat_stdev":%.1f,' ..
    '"p50":%d,"p90":%d,"p99":%d,"p999":%d}',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.min, latency.mean, latency.max, latency.stdev,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9))
  io.write("BENCH_JSON " .. out .. "\n")
end
