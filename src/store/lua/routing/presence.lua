-- Sets an agent's presence. Online: their free units fill at once. Offline: customers
-- waiting for them fall back now rather than at the end of their sticky wait.
-- ARGV: 1 agent, 2 presence. Answers false for an unknown agent, else the assignments.
local a, presence = ARGV[1], ARGV[2]
if redis.call('SISMEMBER', R .. ':agents', a) == 0 then return false end
redis.call('HSET', akey(a), 'presence', presence)
reindex_all(a)
local out = {}
for _, ch in ipairs(CHANNELS) do
  if presence == 'offline' then
    local wkey = R .. ':w:' .. a .. ':' .. ch
    for _, conv in ipairs(redis.call('ZRANGE', wkey, 0, -1)) do
      redis.call('ZREM', R .. ':timers', conv)
      fall_back(conv, ch, out)
    end
    redis.call('DEL', wkey)
  else
    drain(a, ch, out)
  end
end
return out
