-- Appends one inbound message to its customer's one open conversation.
-- Race closed: the idempotency check, the open/reopen/start decision and the append are
-- one step, so a retried webhook racing its original stores the message once, and two
-- first messages of one customer cannot open two conversations.
local c = KEYS[1]                  -- the customer hash
local v = KEYS[2]                  -- the conversations' base (same hash tag)
local cid = ARGV[1]                -- the customer id
local idem = ARGV[2]               -- the idempotency record's field (the key's digest)
local now = tonumber(ARGV[3])      -- ms
local reopen = tonumber(ARGV[4])   -- the reopen window, ms
local ttl = tonumber(ARGV[5])      -- the idempotency records' ttl, ms
local message_id = ARGV[6]         -- compact
local record = ARGV[7]             -- the message record (`message_record.rs`)
local channel = ARGV[8]
local display_name = ARGV[9]       -- or ''
local from_cache = ARGV[10] == '1' -- only the process's identity cache named the customer
local adapter_group = ARGV[11]     -- the routing group the adapter named, or ''
local adapter_lang = ARGV[12]      -- the customer's language the adapter named, or ''
local plain_idem = ARGV[13]        -- the plain idempotency key (records of earlier versions)
local announced = ARGV[14] == '1'  -- the customer is on the feed relay's due list
local FIRST_IDENTITY = 15          -- ARGV[15..]: the message's identity keys

-- The customer fields every message needs; those only routing or opening a
-- conversation needs are read when it does (`routing_fields`).
local f = redis.call('HMGET', c, 'merged_into', 'created_at', 'display_name', 'open', 'lang', 'dxt', 'dxl', 'erasing')
if f[1] then return {'moved', f[1]} end
-- A customer being erased is nobody's any more: the caller drops the pointers that led
-- here and starts a new customer.
if f[8] then return {'erased'} end
-- A customer named by a cache but unknown here was lost with Redis's data: the caller
-- claims the identities again rather than recreating a customer no identity points to.
if not f[2] and from_cache then return {'unknown'} end

-- Idempotency records are `<expires ms>|<receipt record>` in one hash per customer
-- (`receipts.rs` has the record's layout).
local dx = c .. ':dx'
local expires = now + ttl
-- `ch:<channel>` marks the channels the customer wrote on (the conversation's
-- `channels`); a customer writing again on the same channel writes no mark.
local mark = 'ch:' .. channel
-- A chatty customer's records become a hash table for good (#33): Redis scans a small
-- hash's listpack on every lookup, up to `hash-max-listpack-entries` (512) records, and
-- converts one whose field or value passes `hash-max-listpack-value` (64 bytes) at once.
-- A record whose value is longer than that (never looked up: no digest is its field) is
-- written when the customer's records may number DEDUP_TABLE_AT: at an opening once they
-- do, and every DEDUP_TABLE_AT messages of a conversation. Light customers keep the
-- compact listpack and pay nothing.
local function as_table()
  redis.call('HSET', dx, DEDUP_TABLE_FIELD, expires .. '|' .. string.rep('.', 128))
end

-- The common case first (#33): a customer the identity cache named writes on a channel
-- they already wrote on into the open conversation an agent holds, and nothing about the
-- customer changes (the conditions are the general path's, below, for writing nothing to
-- the customer). Four commands do it, and the general path's helpers (closures made
-- on every call) cost a quarter again as much as those four. The writes and the answer
-- are the general path's; anything else goes on to it, with what was read here.
local early, taken -- the open conversation's {agent, mark, group}; its record was taken
do
  local legacy_until, pushed_until = tonumber(f[7]), tonumber(f[6])
  if f[4] and from_cache and legacy_until and legacy_until <= now
    and pushed_until and pushed_until >= now
    and (display_name == '' or f[3]) and (adapter_lang == '' or adapter_lang == f[5]) then
    local conv = v .. ':' .. f[4]
    early = redis.call('HMGET', conv, 'agent', mark, 'group')
    if early[1] and early[2] and early[3] then
      -- The receipt is `receipt_of`'s (below), written with one concatenation.
      local receipt = message_id .. '|' .. f[4] .. '|0a|' .. early[1] .. '||' .. RC_ALREADY_ASSIGNED
      taken = redis.call('HSETNX', dx, idem, expires .. '|' .. receipt) == 0
      if not taken then
        if redis.call('RPUSH', conv .. ':m', record) % DEDUP_TABLE_AT == 0 then as_table() end
        return {'ok', receipt}
      end
    end
  end
end

-- The receipt of an idempotency record still current, or nil.
local function current(record)
  if not record then return nil end
  local bar = string.find(record, '|', 1, true)
  if tonumber(string.sub(record, 1, bar - 1)) > now then return string.sub(record, bar + 1) end
end
-- Versions before digests kept records under the plain key. Only a customer they
-- created (no `dxl`) can hold one, and only for one ttl after this version first saw
-- them (`dxl`): everyone else is spared a second scan of their records.
local legacy_until = tonumber(f[7])
if f[2] and (not legacy_until or legacy_until > now) then
  local prior = current(redis.call('HGET', dx, plain_idem))
  if prior then return {'dup', prior} end
end

-- Customer fields this message sets, written with one HSET at the end.
local sets = {}
local function set(hash, name, value) hash[#hash + 1] = name; hash[#hash + 1] = value end
if not f[2] then set(sets, 'created_at', now); set(sets, 'tier', DEFAULT_TIER); set(sets, 'dxl', 0) end
if f[2] and not legacy_until then set(sets, 'dxl', now + ttl) end
-- The records hash outlives every record in it: its expiry goes to `ttl + slack` from
-- now only once `dxt` (the writes the last push covers) has passed (`receipts.rs`).
local slack = math.floor(ttl / DEDUP_SLACK_PARTS)
local extend = not f[6] or tonumber(f[6]) < now
if extend then set(sets, 'dxt', now + slack) end
if display_name ~= '' and not f[3] then set(sets, 'display_name', display_name) end
-- The customer's language, remembered for conversations whose adapter does not know it.
local lang = f[5] or ''
if adapter_lang ~= '' and adapter_lang ~= lang then
  lang = adapter_lang
  set(sets, 'lang', lang)
end

-- {last, personal_agent, tier, group, complaint, pa_born}, read once when first needed; a
-- customer this message creates has none (every writer of a customer writes
-- `created_at` first: this script and `merge_in.lua`).
local routing
local function routing_fields()
  routing = routing
    or (f[2] and redis.call('HMGET', c, 'last', 'personal_agent', 'tier', 'group', 'complaint', 'pa_born'))
    or {}
  return routing
end
-- The routing group is decided once per opening, here, so concurrent messages agree:
-- the personal agent's group (the customer's), else the adapter's, else the customer's
-- (`routing::routing_group`).
local function opening_group()
  local r = routing_fields()
  return (not r[2] and adapter_group ~= '' and adapter_group) or r[4] or DEFAULT_GROUP
end
-- {agent, mark, group, repeat_contacts}; a conversation an agent holds (its `agent`
-- mirror) needs only the first three.
local function read_held(conv, read)
  local held = read or redis.call('HMGET', conv, 'agent', mark, 'group')
  if held[1] then return held end
  held[4] = redis.call('HGET', conv, 'repeat_contacts')
  return held
end

-- The route a receipt records: final for a held conversation; otherwise a placeholder
-- that the store replaces with routing's decision once it is made.
local function receipt_of(seq, held, reopened)
  local repeat_flag = reopened and '1' or '0'
  if held[1] then
    return table.concat({message_id, seq, repeat_flag .. 'a', held[1], '', RC_ALREADY_ASSIGNED}, '|')
  end
  return table.concat({message_id, seq, repeat_flag .. 'q', '', '', RC_NO_AGENT_AVAILABLE}, '|')
end

local seq, held, receipt = f[4], nil, nil
if seq then
  -- A customer writing into their open conversation (the path above took the
  -- commonest of these): the record is known before any write, so one HSETNX both
  -- checks the key and records it (one command where a read and a write were two).
  held = read_held(v .. ':' .. seq, early)
  receipt = receipt_of(seq, held, false)
  if taken or redis.call('HSETNX', dx, idem, expires .. '|' .. receipt) == 0 then
    local prior = current(redis.call('HGET', dx, idem))
    if prior then return {'dup', prior} end
    redis.call('HSET', dx, idem, expires .. '|' .. receipt)
  end
else
  -- Opening a conversation writes, so the key is checked first (a customer this
  -- message creates has no records yet).
  local prior = f[2] and current(redis.call('HGET', dx, idem))
  if prior then return {'dup', prior} end
  -- Opening or reopening writes a feed event: the relay must know of the customer first.
  if not announced then return {'announce'} end
  local last = routing_fields()[1]
  -- An archived conversation never reopens (its timeline is final in the archive).
  local ended = last and redis.call('HMGET', v .. ':' .. last, 'resolved_at', 'archived')
  local resolved_at = ended and not ended[2] and tonumber(ended[1])
  local reopened = false
  if resolved_at and now - resolved_at <= reopen then
    seq = last
    reopened = true
    local conv = v .. ':' .. seq
    -- Routed afresh: in the group the customer belongs to now.
    redis.call('HDEL', conv, 'resolved_at', 'group')
    redis.call('HINCRBY', conv, 'repeat_contacts', 1)
    redis.call('HSET', conv, 'state', 'open')
    held = read_held(conv)
    customer_feed(c, FEED_CONVERSATION_REOPENED, cid .. '-' .. seq, now, {
      conversation_id = cid .. '-' .. seq, customer_id = cid, channel = channel,
      reopened = tonumber(redis.call('HGET', conv, 'repeat_contacts'))})
  else
    -- A new conversation starts with everything it needs, in one write.
    seq = f[2] and tostring(redis.call('HINCRBY', c, 'seq', 1)) or '1'
    if not f[2] then set(sets, 'seq', seq) end
    local group = opening_group()
    redis.call('HSET', v .. ':' .. seq, 'state', 'open', 'created_at', now,
      'repeat_contacts', 0, 'group', group, mark, '1')
    redis.call('RPUSH', c .. ':convs', cid .. '-' .. seq)
    set(sets, 'last', seq)
    held = {false, '1', group, '0'}
    -- A customer this message creates has written no event yet: `fseq` starts with them.
    if not f[2] then set(sets, 'fseq', 1) end
    customer_feed(c, FEED_CONVERSATION_OPENED, cid .. '-' .. seq, now, {
      conversation_id = cid .. '-' .. seq, customer_id = cid, channel = channel, group = group},
      not f[2])
  end
  set(sets, 'open', seq)
  receipt = receipt_of(seq, held, reopened)
  redis.call('HSET', dx, idem, expires .. '|' .. receipt)
  if f[2] and redis.call('HLEN', dx) >= DEDUP_TABLE_AT then as_table() end
end
if #sets > 0 then redis.call('HSET', c, unpack(sets)) end
-- A customer found through the identity cache already holds these identities.
if not from_cache then redis.call('SADD', c .. ':ids', unpack(ARGV, FIRST_IDENTITY)) end
-- The records of a customer who went quiet expire with the hash.
if extend then redis.call('PEXPIRE', dx, ttl + slack) end

local conv = v .. ':' .. seq
if redis.call('RPUSH', conv .. ':m', record) % DEDUP_TABLE_AT == 0 then as_table() end
local group = held[3] or opening_group()
local conv_sets = {}
if not held[2] then set(conv_sets, mark, '1') end
if not held[3] then set(conv_sets, 'group', group) end
if #conv_sets > 0 then redis.call('HSET', conv, unpack(conv_sets)) end
-- An agent holds the conversation: nothing to route, so the receipt is the answer.
if held[1] then return {'ok', receipt} end
local r = routing_fields()
return {'ok', receipt, group, r[2] or '', r[3] or DEFAULT_TIER, held[4] or '0', lang,
  r[5] and '1' or '0', r[6] or ''}
