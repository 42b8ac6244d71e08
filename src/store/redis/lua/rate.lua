-- Records a customer's rating of a conversation, once per conversation and source, and
-- keeps the customer's most recent ratings.
-- Answers {'not_found'}, {'dup', agent} or {'ok', agent}: whom it rates (the agent
-- holding it, else who last served it, else the personal agent; '' for nobody).
local c = KEYS[1]                -- the customer hash
local conv = KEYS[2]             -- the conversation's hash (same hash tag)
local source = ARGV[1]
local rating = ARGV[2]
local now = ARGV[3]              -- ms
local kept = tonumber(ARGV[4])   -- most ratings kept
local conv_id = ARGV[5]          -- the conversation id (its feed event's subject)
if redis.call('EXISTS', conv) == 0 then return {'not_found'} end
local f = redis.call('HMGET', conv, 'agent', 'served_by')
local agent = f[1] or f[2] or redis.call('HGET', c, 'personal_agent') or ''
if redis.call('HSETNX', conv, 'rating:' .. source, rating .. '|' .. now) == 0 then
  return {'dup', agent}
end
customer_feed(c, FEED_RATING_RECORDED, conv_id, now, {conversation_id = conv_id,
  customer_id = string.match(conv_id, '^(.*)-'), rating = tonumber(rating), source = source,
  agent_id = agent})
redis.call('LPUSH', c .. ':ratings', rating)
redis.call('LTRIM', c .. ':ratings', 0, kept - 1)
return {'ok', agent}
