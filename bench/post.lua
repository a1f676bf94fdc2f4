-- wrk script for bench/gateway.py: POST a fixed body with fixed headers, and print a JSON summary.
--
-- Environment (set by bench/gateway.py):
--   BENCH_BODY     path of a file holding the request body
--   BENCH_HEADERS  path of a file with one "Name: value" header per line
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
