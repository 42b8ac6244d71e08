-- What a routing decision leaves on the customer's slot, in one step after it (routing
-- lives in the group's slot): the customer's personal agent as routing chose or found
-- gone, the holder's mirror (`mirror`), and the idempotency record's real route (the
-- ingest script wrote it before routing had decided), so a retry after the conversation
-- is resolved answers what the first delivery was told.
local c, conv, dx = KEYS[1], KEYS[2], KEYS[3]  -- the customer, the conversation, its records
local personal = ARGV[1]       -- the personal agent chosen now, or ''
local born = ARGV[2]           -- their life (`Incarnation`)
local group = ARGV[3]          -- their group: a customer belongs to it
local gone = ARGV[4] == '1'    -- the recorded personal agent is gone
local holder = ARGV[5]         -- the holder to mirror, or '' (none)
local episode = ARGV[6]        -- the conversation's episode the decision was for
local now = ARGV[7]            -- ms: the decision's time
local field = ARGV[8]          -- the idempotency record's field
local value = ARGV[9]          -- and its value, with the real route
local lifetime = ARGV[10]      -- ms: the records hash's lifetime
if personal ~= '' then
  redis.call('HSET', c, 'personal_agent', personal, 'pa_born', born, 'group', group)
elseif gone then
  redis.call('HDEL', c, 'personal_agent', 'pa_born')
end
if holder ~= '' then mirror(conv, holder, episode, now, false) end
-- The ingest script wrote the record and pushed the hash's expiry past it; a record
-- this write creates means a merge moved the customer's records away meanwhile, and
-- the new hash gets an expiry (`NX`: only if it has none).
if redis.call('HSET', dx, field, value) == 1 then
  redis.call('PEXPIRE', dx, lifetime, 'NX')
end
return 1
