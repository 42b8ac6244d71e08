-- Appends an agent's reply (or note) to a conversation and marks its first response.
-- KEYS[1] customer hash, KEYS[2] conversation base. ARGV: 1 sequence number,
-- 2 message record, 3 now (ms), 4 '1' when it is a customer-facing message, 5 the
-- entry's id when it may arrive twice (a transfer's note), '' otherwise.
-- Answers 'not_found', 'first' or 'stored' (also for an entry written before).
local conv = KEYS[2] .. ':' .. ARGV[1]
if redis.call('EXISTS', conv) == 0 then return 'not_found' end
if (ARGV[5] or '') ~= '' and redis.call('SADD', conv .. ':nids', ARGV[5]) == 0 then
  return 'stored'
end
redis.call('RPUSH', conv .. ':m', ARGV[2])
if ARGV[4] == '1' and redis.call('HSETNX', conv, 'first_response_at', ARGV[3]) == 1 then
  return 'first'
end
return 'stored'
