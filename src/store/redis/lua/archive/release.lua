-- Ends sweepers' claims on customers of one shard: each is due again from its `next`, or
-- off the list, but only while its entry is still where the claim put it; a resolution
-- since (which put it earlier) or a sweeper that took over keeps the earlier of the two.
local due = KEYS[1]                -- the shard
local claims = {unpack(ARGV)}      -- per customer: id, where the claim put them (ms),
                                   -- next (ms, or '' when nothing else waits)
for i = 1, #claims, 3 do
  local customer, leased, next = claims[i], claims[i + 1], claims[i + 2]
  local current = redis.call('ZSCORE', due, customer)
  if current and tonumber(current) == tonumber(leased) then
    if next == '' then
      redis.call('ZREM', due, customer)
    else
      redis.call('ZADD', due, next, customer)
    end
  elseif next ~= '' and (not current or tonumber(next) < tonumber(current)) then
    redis.call('ZADD', due, next, customer)
  end
end
return 1
