-- Claims up to `limit` customers of one due shard whose announcement is older than the
-- grace (announced before `before`): their score becomes the lease's end, so another
-- replica leaves them alone until then. Answers the customers.
local key = KEYS[1]
local before = ARGV[1]              -- ms: now − the grace
local lease = ARGV[2]               -- ms: the claim's end
local limit = tonumber(ARGV[3])
local due = redis.call('ZRANGEBYSCORE', key, '-inf', before, 'LIMIT', 0, limit)
for _, customer in ipairs(due) do
  redis.call('ZADD', key, lease, customer)
end
return due
