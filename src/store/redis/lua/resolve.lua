-- Resolves a conversation and, if it is its customer's open one, clears that pointer,
-- in one step so a message arriving meanwhile either joins it first or reopens it after.
-- KEYS[1] customer hash, KEYS[2] conversation base. ARGV: 1 sequence number, 2 now (ms),
-- 3 the conversation id (an open complaint it holds is closed in the same step).
-- Answers {'not_found'}, {'already_resolved'} or {'resolved', the routing group to
-- release it in, the episode it ended (its repeat contacts)} (read here, in the same
-- step, so a hand-off or a reopening cannot slip between).
local c, conv = KEYS[1], KEYS[2] .. ':' .. ARGV[1]
local state = redis.call('HGET', conv, 'state')
if not state then return {'not_found'} end
if state == 'resolved' then return {'already_resolved'} end
redis.call('HSET', conv, 'state', 'resolved', 'resolved_at', ARGV[2])
-- Routing frees the agent next; a reopened conversation is routed afresh. Who held it
-- stays as `served_by`: a rating that arrives later (a survey) rates them.
local held = redis.call('HGET', conv, 'agent')
if held then redis.call('HSET', conv, 'served_by', held) end
redis.call('HDEL', conv, 'agent')
if redis.call('HGET', c, 'open') == ARGV[1] then redis.call('HDEL', c, 'open') end
if redis.call('HGET', c, 'complaint') == ARGV[3] then redis.call('HDEL', c, 'complaint') end
-- Off the ingest path: a sample of the customer's idempotency records is checked and the
-- expired ones dropped, so a busy customer's hash stays near one TTL's worth.
local sample = redis.call('HRANDFIELD', c .. ':dx', 64, 'WITHVALUES')
for i = 1, #sample, 2 do
  local v = sample[i + 1]
  if tonumber(string.sub(v, 1, string.find(v, '|', 1, true) - 1)) <= tonumber(ARGV[2]) then
    redis.call('HDEL', c .. ':dx', sample[i])
  end
end
local ended = redis.call('HMGET', conv, 'group', 'repeat_contacts')
return {'resolved', ended[1] or DEFAULT_GROUP, ended[2] or '0'}
