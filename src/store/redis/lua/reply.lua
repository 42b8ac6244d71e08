-- Appends an agent's reply (or note) to a conversation and marks its first response.
-- Answers 'not_found', 'archived' (its timeline is in the archive tier, final), 'first'
-- or 'stored' (also for an entry written before).
local conv = KEYS[2] .. ':' .. ARGV[1]   -- the conversation base, then its sequence number
local record = ARGV[2]                   -- the message record
local now = ARGV[3]                      -- ms
local facing = ARGV[4] == '1'            -- a customer-facing message
local entry_id = ARGV[5] or ''           -- when it may arrive twice (a transfer's note)
if redis.call('EXISTS', conv) == 0 then return 'not_found' end
-- A customer being erased: their conversations are nobody's to write to.
if redis.call('HEXISTS', KEYS[1], 'erasing') == 1 then return 'not_found' end
if redis.call('HEXISTS', conv, 'archived') == 1 then return 'archived' end
if entry_id ~= '' and redis.call('SADD', conv .. ':nids', entry_id) == 0 then
  return 'stored'
end
redis.call('RPUSH', conv .. ':m', record)
if facing and redis.call('HSETNX', conv, 'first_response_at', now) == 1 then
  return 'first'
end
return 'stored'
