-- Ends a relay's claims of customers of one due shard, each unless the customer was
-- announced again meanwhile (their score is no longer the lease's end): drained, they
-- leave the due list; not drained (more than one page was pending), they are due again
-- at once. Answers how many claims it ended.
local key = KEYS[1]
local claims = ARGV  -- triples: the customer, where the claim put them (ms), due again
                     -- from then (ms) or '' (drained)
local ended = 0
for i = 1, #claims - 2, 3 do
  local customer, lease, again = claims[i], claims[i + 1], claims[i + 2]
  local score = redis.call('ZSCORE', key, customer)
  if score and tonumber(score) == tonumber(lease) then
    ended = ended + 1
    if again == '' then
      redis.call('ZREM', key, customer)
    else
      redis.call('ZADD', key, again, customer)
    end
  end
end
return ended
