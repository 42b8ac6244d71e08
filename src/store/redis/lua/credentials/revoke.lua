-- Refuses an agent's tokens issued at or before ARGV[1] (ms), for ARGV[2] ms (past which
-- no such token is valid anyway). An earlier time never replaces a later one, so
-- revocations from two replicas land in either order.
local old = tonumber(redis.call('GET', KEYS[1]))
local at = tonumber(ARGV[1])
if not old or old < at then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
end
return 1
