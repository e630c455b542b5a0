-- wrk script of the load harness (scripts/bench.sh).
--
--   wrk ... -s keys.lua URL -- bearer KEYSFILE   each request carries the next key of KEYSFILE
--                                                 ("id<TAB>key" lines) as Authorization: Bearer
--   wrk ... -s keys.lua URL -- basic CREDENTIALS  every request carries Authorization: Basic CREDENTIALS
--
-- Every request is formatted once, in init, so that the script costs the same small,
-- constant work per request in every configuration. Threads start at evenly spread
-- offsets and walk the keys in order: with more keys than a sidecar's cache_size, no
-- key is still cached when it comes round again, so every request is a Redis lookup.
-- done() prints one machine-readable RESULT line (latencies in microseconds).

local threads = {}

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
  thread:set("nthreads", 0)
  for _, t in ipairs(threads) do t:set("nthreads", #threads) end
end

local reqs = {}
local i = 1

function init(args)
  local mode, arg = args[1], args[2]
  if mode == "bearer" then
    for line in io.lines(arg) do
      local key = line:match("\t(sak_%w+)$")
      if key then
        reqs[#reqs + 1] = wrk.format("GET", wrk.path, { Authorization = "Bearer " .. key })
      end
    end
  elseif mode == "basic" then
    reqs[1] = wrk.format("GET", wrk.path, { Authorization = "Basic " .. arg })
  else
    error("usage: -- bearer KEYSFILE | -- basic CREDENTIALS")
  end
  if #reqs == 0 then error("no request prepared: empty keys file?") end
  i = math.floor(tid * #reqs / math.max(nthreads, 1)) % #reqs + 1
end

function request()
  local r = reqs[i]
  i = i + 1
  if i > #reqs then i = 1 end
  return r
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT requests=%d duration_us=%d p50_us=%d p99_us=%d non2xx=%d sockerr=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.status, e.connect + e.read + e.write + e.timeout))
end
