-- Resolves a conversation and, if it is its customer's open one, clears that pointer,
-- in one step so a message arriving meanwhile either joins it first or reopens it after.
-- KEYS[1] customer hash, KEYS[2] conversation base. ARGV: 1 sequence number, 2 now (ms).
-- Answers {'not_found'}, {'already_resolved'} or {'resolved', the routing group to
-- release it in} (read here, in the same step, so a hand-off cannot slip between).
local c, conv = KEYS[1], KEYS[2] .. ':' .. ARGV[1]
local state = redis.call('HGET', conv, 'state')
if not state then return {'not_found'} end
if state == 'resolved' then return {'already_resolved'} end
redis.call('HSET', conv, 'state', 'resolved', 'resolved_at', ARGV[2])
-- Routing frees the agent next; a reopened conversation is routed afresh.
redis.call('HDEL', conv, 'agent')
if redis.call('HGET', c, 'open') == ARGV[1] then redis.call('HDEL', c, 'open') end
return {'resolved', redis.call('HGET', conv, 'group') or DEFAULT_GROUP}
