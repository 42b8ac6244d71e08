-- Second half of merging S into T: T absorbs S's identities, history, idempotency
-- records and open conversation (whose timeline joins T's open one). Guarded by the
-- set of absorbed customers, so a rerun changes nothing.
local c = KEYS[1]                -- T's customer hash
local v = KEYS[2]                -- T's conversation base
local source = ARGV[1]           -- S's id
local now = tonumber(ARGV[2])    -- ms
local cid = ARGV[3]              -- T's id
local s = cjson.decode(ARGV[4])  -- S's snapshot (merge_out's answer)
local ttl = tonumber(ARGV[5])    -- the idempotency records' ttl, ms
-- T's personal agent and their life as read before, when that agent has since been
-- removed (or created again); '' otherwise.
local gone_agent, gone_born = ARGV[6] or '', ARGV[7] or ''
local moved = redis.call('HGET', c, 'merged_into')
if moved then return {'moved', moved} end
-- A customer being erased (or erased) absorbs nobody.
if redis.call('HEXISTS', c, 'erasing') == 1 or redis.call('EXISTS', c .. ':erasure') == 1 then
  return {'erased'}
end
if redis.call('SADD', c .. ':merged', source) == 0 then return {'ok'} end
-- T's personal agent is gone: T has none, and S's may take its place (unless T's changed
-- since it was read).
if gone_agent ~= '' and redis.call('HGET', c, 'personal_agent') == gone_agent
    and (redis.call('HGET', c, 'pa_born') or '') == gone_born then
  redis.call('HDEL', c, 'personal_agent', 'pa_born')
end

if redis.call('HSETNX', c, 'created_at', now) == 1 then
  redis.call('HSET', c, 'tier', DEFAULT_TIER, 'seq', 0, 'dxl', 0)
end
customer_feed(c, FEED_CUSTOMER_MERGED, source, now, {customer_id = source, into = cid})
for _, id in ipairs(s.ids) do redis.call('SADD', c .. ':ids', id) end
local have = {}
for _, conv in ipairs(redis.call('LRANGE', c .. ':convs', 0, -1)) do have[conv] = true end
for _, conv in ipairs(s.convs) do
  if not have[conv] then redis.call('RPUSH', c .. ':convs', conv) end
end
-- A record naming its conversation by sequence number alone means one of S's. A record
-- under a plain key (an earlier version's: keys hold ':', digests never do) makes T
-- look such keys up for one ttl (`dxl`, see ingest.lua).
local legacy = false
for i = 1, #s.dx, 2 do
  local expires, id, seq, rest = string.match(s.dx[i + 1], '^([^|]*)|([^|]*)|(%d+)|(.*)$')
  local record = seq and table.concat({expires, id, source .. '-' .. seq, rest}, '|') or s.dx[i + 1]
  redis.call('HSETNX', c .. ':dx', s.dx[i], record)
  legacy = legacy or string.find(s.dx[i], ':', 1, true) ~= nil
end
if legacy then redis.call('HSET', c, 'dxl', now + ttl) end
-- T's records hash now outlives S's records too (see ingest.lua): never shortened.
if #s.dx > 0 then
  local slack = math.floor(ttl / DEDUP_SLACK_PARTS)
  redis.call('PEXPIRE', c .. ':dx', ttl + slack)
  redis.call('HSET', c, 'dxt', now + slack)
end
-- The personal agent comes with their group (a customer belongs to their agent's group).
-- A survivor with their own keeps them, and S's agent is owed one customer fewer: the
-- debt is kept here (:pfdrop, in this same step) and settled in the agent's group by
-- forget_customer.lua, so a saga that dies between the two still settles it later. (A
-- snapshot reaches a customer it was not merged into only when the one it was merged
-- into never absorbed it: `RedisStore::merge` checks that first.)
if s.personal_agent ~= cjson.null then
  if redis.call('HSETNX', c, 'personal_agent', s.personal_agent) == 1 then
    redis.call('HSET', c, 'group', s.group ~= cjson.null and s.group or DEFAULT_GROUP,
      'pa_born', s.pa_born ~= cjson.null and s.pa_born or '')
  else
    redis.call('HSET', c .. ':pfdrop', source, s.personal_agent)
  end
end
if s.display_name ~= cjson.null then redis.call('HSETNX', c, 'display_name', s.display_name) end

if s.open ~= cjson.null then
  local seq = redis.call('HGET', c, 'open')
  if not seq then
    seq = tostring(redis.call('HINCRBY', c, 'seq', 1))
    redis.call('HSET', v .. ':' .. seq, 'state', 'open', 'created_at', now,
      'repeat_contacts', 0)
    redis.call('RPUSH', c .. ':convs', cid .. '-' .. seq)
    redis.call('HSET', c, 'last', seq, 'open', seq)
  end
  redis.call('RPUSH', v .. ':' .. seq .. ':abs', s.open)
end
return {'ok'}
