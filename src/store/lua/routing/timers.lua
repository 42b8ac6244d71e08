-- Expired sticky waits fall back (least loaded online agent) or join the queue, oldest
-- deadline first. Removing each from :timers inside this script is the claim: replicas
-- polling at once never handle one expiry twice.
-- ARGV: 1 now (ms), 2 most to handle. Answers the assignments.
local due = redis.call('ZRANGEBYSCORE', R .. ':timers', '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
local out = {}
for _, conv in ipairs(due) do
  redis.call('ZREM', R .. ':timers', conv)
  local r = redis.call('HMGET', rkey(conv), 'agent', 'channel')
  if r[1] and r[2] then
    redis.call('ZREM', R .. ':w:' .. r[1] .. ':' .. r[2], conv)
    fall_back(conv, r[2], out)
  end
end
return out
