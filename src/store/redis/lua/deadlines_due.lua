-- Takes working-day deadlines due by ARGV[1] (ms), at most ARGV[2], oldest first:
-- removing each inside this script is the claim, so replicas polling at once never
-- escalate one twice. KEYS[1] the deadlines zset (members `<conversation>|<kind>`), or
-- the follow-ups zset (customer ids): the same claim.
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, member in ipairs(due) do redis.call('ZREM', KEYS[1], member) end
return due
