-- Removes one erased customer's own keys from their slot: the customer, identities,
-- conversation list, idempotency records, merges, ratings, and every conversation
-- opened for them with its timeline. The erasure's record stays (for a customer merged
-- into the erased one, as `of` = that customer), so the id is never taken again and a
-- second request finds the same erasure. Idempotent.
local c = KEYS[1]                -- the customer hash
local v = KEYS[2]                -- the conversations' base
local of = ARGV[1]               -- the erased customer, or '' for that customer itself
local cid = ARGV[2]              -- this customer's id
local last = tonumber(redis.call('HGET', c, 'seq') or '0')
for _, conv in ipairs(redis.call('LRANGE', c .. ':convs', 0, -1)) do
  -- The list names merged customers' conversations too: those go with their own slots.
  if string.sub(conv, 1, #cid + 1) == cid .. '-' then
    local seq = tonumber(string.sub(conv, #cid + 2)) or 0
    if seq > last then last = seq end
  end
end
for seq = 1, last do
  local conv = v .. ':' .. seq
  redis.call('DEL', conv, conv .. ':m', conv .. ':abs', conv .. ':ch', conv .. ':nids', conv .. ':wcall',
    conv .. ':dl')
end
redis.call('DEL', c, c .. ':ids', c .. ':convs', c .. ':dx', c .. ':merged', c .. ':pfdrop', c .. ':ratings', c .. ':fp')
if of ~= '' then redis.call('HSET', c .. ':erasure', 'of', of) end
return 1
