-- Claims up to `limit` customers of one due-list shard whose earliest unarchived
-- resolution is at or before `before`, moving each to `leased` so that no other sweeper
-- takes them until the lease runs out. Answers {customer, earliest resolution (ms), ...}.
local due = KEYS[1]               -- the shard, a sorted set: customer -> ms
local before = ARGV[1]            -- ms
local leased = ARGV[2]            -- ms
local limit = tonumber(ARGV[3])
local found = redis.call('ZRANGEBYSCORE', due, '-inf', before, 'WITHSCORES', 'LIMIT', 0, limit)
for i = 1, #found, 2 do
  redis.call('ZADD', due, leased, found[i])
end
return found
