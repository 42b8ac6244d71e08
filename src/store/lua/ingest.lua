-- Appends one inbound message to its customer's one open conversation.
-- KEYS[1] customer hash C, KEYS[2] conversation base V (same hash tag: the customer id).
-- ARGV: 1 customer id, 2 idempotency key, 3 now (ms), 4 reopen window (ms),
--       5 idempotency ttl (ms), 6 message id, 7 message json, 8 channel,
--       9 display name or '', 10 queue, 11.. identity keys.
-- Race closed: the idempotency check, the open/reopen/start decision and the append are
-- one step, so a retried webhook racing its original stores the message once, and two
-- first messages of one customer cannot open two conversations.
local c, v = KEYS[1], KEYS[2]
local cid, idem = ARGV[1], ARGV[2]
local now, reopen, ttl = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])

local prior = redis.call('HGET', c .. ':dx', idem)
if prior then
  local expires = tonumber(redis.call('ZSCORE', c .. ':dxt', idem))
  if expires and expires > now then return {'dup', prior} end
end
local moved = redis.call('HGET', c, 'merged_into')
if moved then return {'moved', moved} end

local expired = redis.call('ZRANGEBYSCORE', c .. ':dxt', '-inf', now, 'LIMIT', 0, 16)
if #expired > 0 then
  redis.call('HDEL', c .. ':dx', unpack(expired))
  redis.call('ZREM', c .. ':dxt', unpack(expired))
end

if redis.call('HSETNX', c, 'created_at', now) == 1 then
  redis.call('HSET', c, 'tier', 'standard', 'seq', 0)
end
if ARGV[9] ~= '' then redis.call('HSETNX', c, 'display_name', ARGV[9]) end
for i = 11, #ARGV do redis.call('SADD', c .. ':ids', ARGV[i]) end

local seq = redis.call('HGET', c, 'open')
if not seq then
  local last = redis.call('HGET', c, 'last')
  local resolved_at = last and tonumber(redis.call('HGET', v .. ':' .. last, 'resolved_at'))
  if resolved_at and now - resolved_at <= reopen then
    seq = last
    local conv = v .. ':' .. seq
    redis.call('HSET', conv, 'state', 'open')
    redis.call('HDEL', conv, 'resolved_at')
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
redis.call('SADD', conv .. ':ch', ARGV[8])
redis.call('RPUSH', conv .. ':m', ARGV[7])
local queue = redis.call('HGET', conv, 'queue')
local receipt = cjson.encode({
  message_id = ARGV[6], customer_id = cid, conversation_id = cid .. '-' .. seq,
  route = { decision = 'queued', agent_id = cjson.null, queue = queue or cjson.null,
            reason = 'no_agent_available' } })
redis.call('HSET', c .. ':dx', idem, receipt)
redis.call('ZADD', c .. ':dxt', now + ttl, idem)
return {'ok', receipt}
