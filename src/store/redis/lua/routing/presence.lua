-- Sets an agent's presence. Online: their free units fill at once. Offline: customers
-- waiting for them fall back now rather than at the end of their sticky wait.
-- The conversations an agent holds go back to routing after a grace period offline
-- (see timers.lua); coming back before it ends keeps them.
-- Answers false for an unknown agent, else the assignments.
local a, presence = ARGV[1], ARGV[2]
local now, grace = tonumber(ARGV[3]), tonumber(ARGV[4])   -- ms
feed_at = now
if redis.call('SISMEMBER', R .. ':agents', a) == 0 then return false end
local before = redis.call('HGET', akey(a), 'presence') or 'offline'
set_presence(a, presence)
if before ~= presence then
  feed(FEED_AGENT_PRESENCE_CHANGED, a, {agent_id = a, presence = presence, previous = before})
end
reindex_all(a)
if presence == 'offline' then
  redis.call('ZADD', R .. ':graces', 'NX', now + grace, a)
else
  redis.call('ZREM', R .. ':graces', a)
end
local out = {}
for _, ch in ipairs(CHANNELS) do
  if presence == 'offline' then
    release_waiting(a, ch, out)
  else
    drain(a, ch, out)
  end
end
return out
