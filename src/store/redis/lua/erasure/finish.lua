-- Marks an erasure done, once. Answers 1 if this call did.
local erasure = KEYS[1]          -- the erased customer's `:erasure`
local now = ARGV[1]              -- ms
if redis.call('HGET', erasure, 'state') ~= 'pending' then return 0 end
redis.call('HSET', erasure, 'state', 'done', 'done_at', now)
return 1
