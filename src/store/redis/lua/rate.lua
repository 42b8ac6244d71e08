-- Records a customer's rating of a conversation, once per conversation and source, and
-- keeps the customer's most recent ratings.
-- KEYS[1] customer hash C, KEYS[2] the conversation's hash (same hash tag).
-- ARGV: 1 source, 2 rating, 3 now (ms), 4 most ratings kept.
-- Answers {'not_found'}, {'dup', agent} or {'ok', agent}: whom it rates (the agent
-- holding it, else who last served it, else the personal agent; '' for nobody).
local c, conv = KEYS[1], KEYS[2]
if redis.call('EXISTS', conv) == 0 then return {'not_found'} end
local f = redis.call('HMGET', conv, 'agent', 'served_by')
local agent = f[1] or f[2] or redis.call('HGET', c, 'personal_agent') or ''
if redis.call('HSETNX', conv, 'rating:' .. ARGV[1], ARGV[2] .. '|' .. ARGV[3]) == 0 then
  return {'dup', agent}
end
redis.call('LPUSH', c .. ':ratings', ARGV[2])
redis.call('LTRIM', c .. ':ratings', 0, tonumber(ARGV[4]) - 1)
return {'ok', agent}
