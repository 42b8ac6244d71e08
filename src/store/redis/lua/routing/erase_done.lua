-- The end of an erasure in one routing group: its record that the erased customer was
-- counted out of their personal agent's portfolio (`erase.lua`) goes too, once the
-- customer's own record (which named that agent) is gone.
local customer = ARGV[1]   -- the erased customer
redis.call('SREM', R .. ':dropped', customer)
return 1
