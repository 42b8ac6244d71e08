-- Moves one identity from a merged customer to the survivor, unless it moved already.
-- KEYS[1] identity key. ARGV: 1 merged customer, 2 survivor.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2])
  return 1
end
return 0
