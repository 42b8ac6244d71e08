-- Resolves a conversation and, if it is its customer's open one, clears that pointer,
-- in one step so a message arriving meanwhile either joins it first or reopens it after.
-- Answers {'not_found'}, {'already_resolved'} or {'resolved', the routing group to
-- release it in, the episode it ended (its repeat contacts)} (read here, in the same
-- step, so a hand-off or a reopening cannot slip between).
local c = KEYS[1]                       -- the customer hash
local seq = ARGV[1]                     -- the conversation's sequence number
local conv = KEYS[2] .. ':' .. seq      -- the conversation base, then that number
local now = ARGV[2]                     -- ms
local id = ARGV[3]  -- the conversation id (an open complaint it holds closes with it)
local state = redis.call('HGET', conv, 'state')
if not state then return {'not_found'} end
if state == 'resolved' then return {'already_resolved'} end
redis.call('HSET', conv, 'state', 'resolved', 'resolved_at', now)
-- Routing frees the agent next; a reopened conversation is routed afresh. Who held it
-- stays as `served_by`: a rating that arrives later (a survey) rates them.
local held = redis.call('HGET', conv, 'agent')
if held then redis.call('HSET', conv, 'served_by', held) end
redis.call('HDEL', conv, 'agent')
if redis.call('HGET', c, 'open') == seq then redis.call('HDEL', c, 'open') end
if redis.call('HGET', c, 'complaint') == id then redis.call('HDEL', c, 'complaint') end
-- Off the ingest path: a sample of the customer's idempotency records is checked and the
-- expired ones dropped, so a busy customer's hash stays near one TTL's worth.
local sample = redis.call('HRANDFIELD', c .. ':dx', 64, 'WITHVALUES')
for i = 1, #sample, 2 do
  local v = sample[i + 1]
  if tonumber(string.sub(v, 1, string.find(v, '|', 1, true) - 1)) <= tonumber(now) then
    redis.call('HDEL', c .. ':dx', sample[i])
  end
end
local ended = redis.call('HMGET', conv, 'group', 'repeat_contacts')
return {'resolved', ended[1] or DEFAULT_GROUP, ended[2] or '0'}
