-- Shared by the wrk scenarios of scripts/bench.sh: each thread numbers its requests, so
-- every message has its own external_id (a retry would be a duplicate, not a message).
counter = 0
thread_id = 0
local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  thread_id = id
  visitors = tonumber(os.getenv("VISITORS") or "10000")
  math.randomseed(os.time() + thread_id * 7919)
end

function message(from)
  counter = counter + 1
  local body = '{"channel":"chat","external_id":"' .. run .. '-' .. thread_id .. '-' .. counter ..
    '","from":"' .. from .. '","text":"' .. text .. '"' .. group .. '}'
  return wrk.format("POST", "/v1/messages", nil, body)
end

run = os.getenv("RUN") or "r"
-- With GROUP, every message names that routing group (the adapter's inbox or line).
group = os.getenv("GROUP") and (',"group":"' .. os.getenv("GROUP") .. '"') or ""
-- A 100-character message, as in the memory figures.
text = string.rep("0123456789", 10)
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. (os.getenv("TOKEN") or "bench-adapter")
-- With DELAY_MS, each connection pauses that long after every answer (wrk's `delay`):
-- a steady load below the peak, to read latency at a given rate.
local pause = tonumber(os.getenv("DELAY_MS") or "0")
if pause > 0 then
  function delay() return pause end
end
