-- Moves one identity from a merged customer to the survivor, unless it moved already.
local identity = KEYS[1]
local merged, survivor = ARGV[1], ARGV[2]
if redis.call('GET', identity) == merged then
  redis.call('SET', identity, survivor)
  return 1
end
return 0
