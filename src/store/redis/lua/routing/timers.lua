-- Expired sticky waits fall back (least loaded online agent) or join the queue, oldest
-- deadline first. Removing each from :timers inside this script is the claim: replicas
-- polling at once never handle one expiry twice.
-- Answers the assignments.
local now = tonumber(ARGV[1])    -- ms
local limit = tonumber(ARGV[2])  -- most to handle, of each kind
local due = redis.call('ZRANGEBYSCORE', R .. ':timers', '-inf', now, 'LIMIT', 0, limit)
local out = {}
feed_at = now
-- Finalize's probe for replicas of releases before announcements stays for them to take.
local function probe(conv) return string.sub(conv, 1, #PROBE_PREFIX) == PROBE_PREFIX end
for _, conv in ipairs(due) do
  if not probe(conv) then
    redis.call('ZREM', R .. ':timers', conv)
    local r = redis.call('HMGET', rkey(conv), 'agent', 'channel')
    if r[1] and r[2] then
      redis.call('ZREM', R .. ':w:' .. r[1] .. ':' .. r[2], conv)
      fall_back(conv, r[2], out)
    end
  end
end
-- Agents offline past their grace period hand their conversations back.
for _, a in ipairs(redis.call('ZRANGEBYSCORE', R .. ':graces', '-inf', now, 'LIMIT', 0, limit)) do
  redis.call('ZREM', R .. ':graces', a)
  if redis.call('HGET', akey(a), 'presence') == 'offline' then hand_back(a, out) end
end
-- Requirements relax (`Routing::relax_due`): skills to any level, then nothing; a queued
-- conversation that someone now fits goes to them.
for _, conv in ipairs(redis.call('ZRANGEBYSCORE', R .. ':relax', '-inf', now, 'LIMIT', 0, limit)) do
  redis.call('ZREM', R .. ':relax', conv)
  local r = redis.call('HMGET', rkey(conv), 'state', 'step', 't2', 'n1', 'channel', 'queue')
  if r[1] then
    local step = 2
    if not (r[3] and tonumber(r[3]) <= now) then step = math.max(num(r[2]), 1) end
    local needs = step == 1 and (r[4] or '') or ''
    redis.call('HSET', rkey(conv), 'step', step, 'needs', needs)
    if step == 1 and r[3] then redis.call('ZADD', R .. ':relax', r[3], conv) end
    if r[1] == S_QUEUED and not r[6] then place_queued(conv, r[5], split(needs), out) end
  end
end
-- Tombstones outlive any hand-off by far after a day.
redis.call('ZREMRANGEBYSCORE', R .. ':gone', '-inf', now - 86400000)
return out
