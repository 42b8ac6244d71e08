-- Appends an agent's reply (or note) to a conversation and marks its first response.
-- Answers 'not_found', 'archived' (its timeline is in the archive tier, final), 'first'
-- or 'stored' (also for an entry written before).
local conv = KEYS[2] .. ':' .. ARGV[1]   -- the conversation base, then its sequence number
local record = ARGV[2]                   -- the message record
local now = ARGV[3]                      -- ms
local facing = ARGV[4] == '1'            -- a customer-facing message
local entry_id = ARGV[5] or ''           -- when it may arrive twice (a transfer's note)
local conv_id = ARGV[6] or ''            -- the conversation id (its feed event's subject)
local author = ARGV[7] or ''             -- the agent replying, or ''
local announced = ARGV[8] == '1'         -- the customer is on the feed relay's due list
if redis.call('EXISTS', conv) == 0 then return 'not_found' end
-- A customer being erased: their conversations are nobody's to write to.
if redis.call('HEXISTS', KEYS[1], 'erasing') == 1 then return 'not_found' end
if redis.call('HEXISTS', conv, 'archived') == 1 then return 'archived' end
if entry_id ~= '' and redis.call('SADD', conv .. ':nids', entry_id) == 0 then
  return 'stored'
end
-- A first response writes a feed event: the relay must know of the customer first.
local first = facing and redis.call('HEXISTS', conv, 'first_response_at') == 0
if first and not announced then return 'announce' end
redis.call('RPUSH', conv .. ':m', record)
if first then
  redis.call('HSET', conv, 'first_response_at', now)
  customer_feed(KEYS[1], FEED_CONVERSATION_FIRST_RESPONSE, conv_id, now, {
    conversation_id = conv_id, customer_id = string.match(conv_id, '^(.*)-'), agent_id = author})
  return 'first'
end
return 'stored'
