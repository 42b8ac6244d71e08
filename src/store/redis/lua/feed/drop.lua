-- Drops the customer's pending feed entries the relay moved to its shard (numbered up to
-- `through`, the first `read` of the list when it read them); entries appended since
-- stay. Answers how many are left.
local list = KEYS[1] .. ':fp'      -- KEYS[1]: the customer hash
local through = tonumber(ARGV[1])
local read = tonumber(ARGV[2])
-- Numbers grow along the list and only its head is ever dropped, so when the last entry
-- read still holds `through`, the entries read are exactly the first `read`.
local last = read > 0 and redis.call('LINDEX', list, read - 1)
if last and tonumber(cjson.decode(last).n) == through then
  redis.call('LTRIM', list, read, -1)
else
  while true do
    local head = redis.call('LINDEX', list, 0)
    if not head or tonumber(cjson.decode(head).n) > through then break end
    redis.call('LPOP', list)
  end
end
return redis.call('LLEN', list)
