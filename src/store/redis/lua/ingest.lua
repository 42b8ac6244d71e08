-- Appends one inbound message to its customer's one open conversation.
-- KEYS[1] customer hash C, KEYS[2] conversation base V (same hash tag: the customer id).
-- ARGV: 1 customer id, 2 idempotency record field (the key's digest), 3 now (ms),
--       4 reopen window (ms), 5 idempotency ttl (ms), 6 message id (compact),
--       7 message record, 8 channel, 9 display name or '', 10 queue, 11 '1' when only
--       the process's identity cache named this customer, 12 the routing group the
--       adapter named or '', 13 the customer's language the adapter named or '',
--       14 the plain idempotency key (records of earlier versions), 15.. identity keys.
-- Race closed: the idempotency check, the open/reopen/start decision and the append are
-- one step, so a retried webhook racing its original stores the message once, and two
-- first messages of one customer cannot open two conversations.
local c, v = KEYS[1], KEYS[2]
local cid, idem = ARGV[1], ARGV[2]
local now, reopen, ttl = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])

-- Idempotency records are `<expires ms>|<receipt record>` in one hash per customer
-- (`receipts.rs` has the record's layout).
local found = redis.call('HMGET', c .. ':dx', idem, ARGV[14])
local prior = found[1] or found[2]
if prior then
  local bar = string.find(prior, '|', 1, true)
  if tonumber(string.sub(prior, 1, bar - 1)) > now then
    return {'dup', string.sub(prior, bar + 1)}
  end
end
-- One read for every customer field this script needs.
local f = redis.call('HMGET', c, 'merged_into', 'created_at', 'display_name', 'open', 'last', 'personal_agent', 'tier', 'group', 'lang', 'complaint')
if f[1] then return {'moved', f[1]} end
-- A customer named by a cache but unknown here was lost with Redis's data: the caller
-- claims the identities again rather than recreating a customer no identity points to.
if not f[2] and ARGV[11] == '1' then return {'unknown'} end

if not f[2] then redis.call('HSET', c, 'created_at', now, 'tier', DEFAULT_TIER, 'seq', 0) end
if ARGV[9] ~= '' and not f[3] then redis.call('HSET', c, 'display_name', ARGV[9]) end
-- A customer found through the identity cache already holds these identities.
if ARGV[11] ~= '1' then redis.call('SADD', c .. ':ids', unpack(ARGV, 15)) end
-- The customer's language, remembered for conversations whose adapter does not know it.
local lang = f[9] or ''
if ARGV[13] ~= '' and ARGV[13] ~= lang then
  lang = ARGV[13]
  redis.call('HSET', c, 'lang', lang)
end

local seq = f[4]
local reopened = false
if not seq then
  local last = f[5]
  local resolved_at = last and tonumber(redis.call('HGET', v .. ':' .. last, 'resolved_at'))
  if resolved_at and now - resolved_at <= reopen then
    seq = last
    reopened = true
    local conv = v .. ':' .. seq
    redis.call('HSET', conv, 'state', 'open')
    -- Routed afresh: in the group the customer belongs to now.
    redis.call('HDEL', conv, 'resolved_at', 'group')
    redis.call('HINCRBY', conv, 'repeat_contacts', 1)
  else
    seq = tostring(redis.call('HINCRBY', c, 'seq', 1))
    redis.call('HSET', v .. ':' .. seq, 'state', 'open', 'created_at', now,
      'queue', ARGV[10], 'repeat_contacts', 0)
    redis.call('RPUSH', c .. ':convs', cid .. '-' .. seq)
    redis.call('HSET', c, 'last', seq)
  end
  redis.call('HSET', c, 'open', seq)
end

local conv = v .. ':' .. seq
redis.call('RPUSH', conv .. ':m', ARGV[7])
-- Routing needs these only when no agent holds the conversation (its `agent` mirror).
-- `ch:<channel>` marks a channel already in `:ch`: a customer writing again on the same
-- channel (the common case) costs no set write.
local held = redis.call('HMGET', conv, 'agent', 'repeat_contacts', 'queue', 'group', 'ch:' .. ARGV[8])
if not held[5] then
  redis.call('SADD', conv .. ':ch', ARGV[8])
  redis.call('HSET', conv, 'ch:' .. ARGV[8], '1')
end
local personal, tier = f[6], f[7]
-- The routing group is decided once per opening, here, so concurrent messages agree:
-- the personal agent's group (the customer's), else the adapter's, else the customer's
-- (`routing::routing_group`).
local group = held[4]
if not group then
  group = (not personal and ARGV[12] ~= '' and ARGV[12]) or f[8] or DEFAULT_GROUP
  redis.call('HSET', conv, 'group', group)
end
-- A held conversation's route is final here; otherwise a placeholder that the store
-- replaces with routing's decision once it is made.
local receipt
local repeat_flag = reopened and '1' or '0'
if held[1] then
  receipt = table.concat({ARGV[6], seq, repeat_flag .. 'a', held[1], '', RC_ALREADY_ASSIGNED}, '|')
else
  receipt = table.concat({ARGV[6], seq, repeat_flag .. 'q', '', held[3] or '', RC_NO_AGENT_AVAILABLE}, '|')
end
redis.call('HSET', c .. ':dx', idem, (now + ttl) .. '|' .. receipt)
-- No record outlives the customer's last write by more than `ttl`: the records of a
-- customer who went quiet expire with the hash.
redis.call('PEXPIRE', c .. ':dx', ttl)
return {'ok', receipt, held[1] or '', personal or '', tier or DEFAULT_TIER, held[2] or '0', group, lang,
  f[10] and '1' or '0'}
