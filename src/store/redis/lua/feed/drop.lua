-- Drops the customer's pending feed entries the relay moved to its shard (numbered up to
-- `through`); entries appended since stay. Answers how many are left.
local list = KEYS[1] .. ':fp'      -- KEYS[1]: the customer hash
local through = tonumber(ARGV[1])
while true do
  local head = redis.call('LINDEX', list, 0)
  if not head or tonumber(cjson.decode(head).n) > through then break end
  redis.call('LPOP', list)
end
return redis.call('LLEN', list)
