-- Ends a relay's claim of a customer, unless the customer was announced again meanwhile
-- (their score is no longer the lease's end): drained, they leave the due list; not
-- drained (more than one page was pending), they are due again at once.
local key = KEYS[1]
local customer = ARGV[1]
local lease = ARGV[2]               -- ms: where the claim put them
local again = ARGV[3]               -- ms: due again from then, or '' (drained)
local score = redis.call('ZSCORE', key, customer)
if not score or tonumber(score) ~= tonumber(lease) then return 0 end
if again == '' then
  redis.call('ZREM', key, customer)
else
  redis.call('ZADD', key, again, customer)
end
return 1
