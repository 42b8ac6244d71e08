-- Starts a customer's erasure, or finds the one started before, in the customer's slot:
-- the record (`:erasure`) and the mark that makes the customer unreachable (`erasing`:
-- ingest starts a new customer for their identities, reads find nothing) in one step.
-- Answers {'begun'}, {'exists'}, {'of', <the customer whose erasure took this one>},
-- {'moved', <the customer it was merged into>} or {'missing'}.
local c = KEYS[1]                -- the customer hash
local now = ARGV[1]              -- ms
local erasure = c .. ':erasure'
local of = redis.call('HGET', erasure, 'of')
if of then return {'of', of} end
if redis.call('EXISTS', erasure) == 1 then return {'exists'} end
local f = redis.call('HMGET', c, 'created_at', 'merged_into')
if f[2] then return {'moved', f[2]} end
if not f[1] then return {'missing'} end
redis.call('HSET', erasure, 'state', 'pending', 'requested_at', now)
redis.call('HSET', c, 'erasing', now)
return {'begun'}
