-- The end of an erasure in one routing group: its record that the erased customer was
-- counted out of their personal agent's portfolio (`erase.lua`) goes too, once the
-- customer's own record (which named that agent) is gone.
redis.call('SREM', R .. ':dropped', ARGV[1])
return 1
