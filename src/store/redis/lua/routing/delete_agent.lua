-- Removes an agent: the conversations it holds and the customers waiting for it go back
-- to routing at once; its customers get a new personal agent, by the usual rule, the next
-- time they need one (route.lua chooses anew when the owner is no longer an agent).
-- ARGV: 1 agent. Answers false for an unknown agent, else the assignments.
local a = ARGV[1]
if redis.call('SREM', R .. ':agents', a) == 0 then return false end
-- Its event log stays readable; an erasure still finds it there.
redis.call('SADD', R .. ':former', a)
set_presence(a, 'offline')
redis.call('ZREM', R .. ':graces', a)
local out = {}
hand_back(a, out)
unindex(a)
for _, ch in ipairs(CHANNELS) do release_waiting(a, ch, out) end
redis.call('DEL', akey(a), R .. ':held:' .. a)
set_presence(a, nil)
return out
