-- Refuses an agent's tokens issued at or before `at`, for `keep` (past which no such
-- token is valid anyway). An earlier time never replaces a later one, so revocations
-- from two replicas land in either order.
local key = KEYS[1]               -- P:ag:{agent}:revoked
local at = ARGV[1]                -- ms
local keep = ARGV[2]              -- ms
local old = tonumber(redis.call('GET', key))
if not old or old < tonumber(at) then
  redis.call('SET', key, at, 'PX', keep)
end
return 1
