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
-- What the conversation's facts are computed from (`domain::facts`; the relay computes
-- them once, with the business-hours calendar), read before this step changes it.
local h = redis.call('HGETALL', conv)
local m = {conversation_id = id, customer_id = string.match(id, '^(.*)-'), channels = {},
  resolved_at = tonumber(now), transfers = 0, reopened = 0, complaint = false,
  group = DEFAULT_GROUP}
local latest_rating = -1
for i = 1, #h, 2 do
  local k, v = h[i], h[i + 1]
  if k == 'created_at' then m.waiting_since = tonumber(v)
  elseif k == 'first_assigned_at' then m.first_assigned_at = tonumber(v)
  elseif k == 'first_agent' then m.first_agent = v
  elseif k == 'first_response_at' then m.first_response_at = tonumber(v)
  elseif k == 'agent' then m.agent_id = v
  elseif k == 'transfers' then m.transfers = tonumber(v)
  elseif k == 'repeat_contacts' then m.reopened = tonumber(v)
  elseif k == 'complained' then m.complaint = true
  elseif k == 'group' then m.group = v
  elseif string.sub(k, 1, 3) == 'ch:' then m.channels[#m.channels + 1] = string.sub(k, 4)
  elseif string.sub(k, 1, 7) == 'rating:' then
    local bar = string.find(v, '|', 1, true)
    local at = bar and tonumber(string.sub(v, bar + 1)) or 0
    if at > latest_rating then
      latest_rating = at
      m.csat = tonumber(bar and string.sub(v, 1, bar - 1) or v)
    end
  end
end
if #m.channels == 0 then m.channels = cjson.decode('[]') end
if redis.call('HGET', c, 'complaint') == id then m.complaint = true end
m.personal_agent_id = redis.call('HGET', c, 'personal_agent') or nil
customer_feed(c, FEED_CONVERSATION_RESOLVED, id, now, m)
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
