-- Takes working-day deadlines due by `now`, at most `limit`, oldest first: removing each
-- inside this script is the claim, so replicas polling at once never escalate one twice.
-- The follow-ups zset (customer ids) is claimed the same way.
local zset = KEYS[1]             -- the deadlines zset (members `<conversation>|<kind>`)
local now = ARGV[1]              -- ms
local limit = tonumber(ARGV[2])
local due = redis.call('ZRANGEBYSCORE', zset, '-inf', now, 'LIMIT', 0, limit)
for _, member in ipairs(due) do redis.call('ZREM', zset, member) end
return due
