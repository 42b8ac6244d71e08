-- Drops an identity's pointer while it names one of the erased customers (a new customer
-- may hold it already: that one keeps it). Answers 1 if dropped.
local identity = KEYS[1]
local owner = redis.call('GET', identity)
for _, erased in ipairs(ARGV) do
  if owner == erased then
    redis.call('DEL', identity)
    return 1
  end
end
return 0
