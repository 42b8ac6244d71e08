-- Takes an agent out of this group because they move to another; only an idle agent
-- may (`Routing::is_idle`): nothing held, nobody waiting for them, no customer owned,
-- since a customer belongs to their personal agent's group.
-- ARGV: 1 agent. Answers 'absent', 'busy' or 'left'.
local a = ARGV[1]
if redis.call('SISMEMBER', R .. ':agents', a) == 0 then return 'absent' end
if num(redis.call('HGET', akey(a), 'portfolio')) > 0 or redis.call('ZCARD', R .. ':held:' .. a) > 0 then
  return 'busy'
end
for _, ch in ipairs(CHANNELS) do
  if redis.call('ZCARD', R .. ':w:' .. a .. ':' .. ch) > 0 then return 'busy' end
end
redis.call('SREM', R .. ':agents', a)
redis.call('ZREM', R .. ':graces', a)
unindex(a)
set_presence(a, nil)
redis.call('DEL', akey(a), R .. ':held:' .. a)
return 'left'
