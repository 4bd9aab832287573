-- wrk script: POST varied profiles with one bearer token (env TOKEN), count non-2xx.
local occupations = {"administrator", "artist", "doctor", "educator", "engineer",
  "entertainment", "executive", "healthcare", "homemaker", "lawyer", "librarian",
  "marketing", "none", "other", "programmer", "retired", "salesman", "scientist",
  "student", "technician", "writer"}
local genders = {"M", "F", "O"}
local token = os.getenv("TOKEN")
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("seed", counter)
end

function init(args)
  math.randomseed(seed * 7919)
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Authorization"] = "Bearer " .. token
end

function request()
  local body = string.format('{"age": %d, "gender": "%s", "occupation": "%s"}',
    math.random(7, 80), genders[math.random(1, 3)], occupations[math.random(1, 21)])
  return wrk.format(nil, nil, nil, body)
end

function done(summary, latency, requests)
  io.write(string.format("RESULT requests=%d duration_us=%d non2xx=%d errors=%d p50_ms=%.3f p99_ms=%.3f\n",
    summary.requests, summary.duration, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
