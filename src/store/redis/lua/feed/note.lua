-- Records a customer-side event that no other script of the change writes (a complaint
-- raised, a deadline breached), with the fields the change sets: one step.
-- KEYS: 1 the customer hash, 2 the conversation hash (same slot; or the customer hash).
-- ARGV: 1 type, 2 subject, 3 at (ms), 4 data (JSON), 5 n, then n field/value pairs for
-- the customer hash, then field/value pairs for the conversation hash.
local c, conv = KEYS[1], KEYS[2]
local kind, subject, at, data = ARGV[1], ARGV[2], ARGV[3], cjson.decode(ARGV[4])
local n = tonumber(ARGV[5])
local FIRST_FIELD = 6
-- A customer erased (or being erased) records nothing: it would leave a trace of them.
local f = redis.call('HMGET', c, 'created_at', 'erasing')
if not f[1] or f[2] then return 0 end
if n > 0 then redis.call('HSET', c, unpack(ARGV, FIRST_FIELD, FIRST_FIELD - 1 + 2 * n)) end
if #ARGV >= FIRST_FIELD + 2 * n then redis.call('HSET', conv, unpack(ARGV, FIRST_FIELD + 2 * n)) end
customer_feed(c, kind, subject, at, data)
return 1
