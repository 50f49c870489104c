-- POST one fixed JSON body on keep-alive connections; print a JSON summary line for the harness.
-- The body comes from the file named by BENCH_BODY_FILE (read once per wrk thread).
--
-- wrk's own latency percentiles are corrected for coordinated omission: after the run it adds
-- synthetic samples for every response slower than twice the mean interval, so a few 170 ms stalls
-- among 1,000 requests of 2 ms move its p90 to 40 ms. With BENCH_TIMING=1 (one connection per
-- thread only) each request is also timed here with a monotonic clock, and those percentiles
-- (the "raw_" fields: what the requests actually took) are printed beside wrk's.
local f = assert(io.open(os.getenv("BENCH_BODY_FILE"), "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

if os.getenv("BENCH_TIMING") == "1" then
  local ffi = require("ffi")
  ffi.cdef [[
    typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
    int clock_gettime(int clock, bench_timespec *ts);
  ]]
  local ts = ffi.new("bench_timespec")
  local function now_us()
    ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC
    return tonumber(ts.tv_sec) * 1e6 + tonumber(ts.tv_nsec) / 1e3
  end
  local req -- built in init(), once wrk has set the path and the Host header
  local started = 0
  lat, n = {}, 0 -- globals, so done() can copy them out of each thread with thread:get

  function init(args)
    req = wrk.format()
  end

  function request()
    started = now_us()
    return req
  end

  function response(status, headers, body)
    n = n + 1
    lat[n] = now_us() - started
  end
end

local function raw_percentiles()
  local all = {}
  for _, t in ipairs(threads) do
    local got = t:get("lat")
    if got then
      for _, v in ipairs(got) do all[#all + 1] = v end
    end
  end
  if #all == 0 then return "" end
  table.sort(all)
  local function pct(p) return all[math.max(1, math.ceil(#all * p / 100))] end
  local sum = 0
  for _, v in ipairs(all) do sum = sum + v end
  return string.format('"raw_count":%d,"raw_p50_us":%.1f,"raw_p90_us":%.1f,"raw_p99_us":%.1f,' ..
    '"raw_mean_us":%.1f,"raw_max_us":%.1f,', #all, pct(50), pct(90), pct(99), sum / #all, all[#all])
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {%s"requests":%d,"duration_us":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,' ..
    '"mean_us":%.1f,"max_us":%d,"connect_errors":%d,"read_errors":%d,"write_errors":%d,' ..
    '"status_errors":%d,"timeouts":%d}\n',
    raw_percentiles(), summary.requests, summary.duration, latency:percentile(50),
    latency:percentile(90), latency:percentile(99), latency.mean, latency.max, e.connect, e.read,
    e.write, e.status, e.timeout))
end
