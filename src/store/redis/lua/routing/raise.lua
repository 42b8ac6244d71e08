-- Raises a routed conversation's queue priority to at least ARGV[2]; a queued one moves
-- up its queue at once (`Routing::raise_priority`). ARGV: 1 conversation, 2 floor.
-- Answers 1, or 0 when it is not routed here.
local conv, floor = ARGV[1], tonumber(ARGV[2])
local r = redis.call('HMGET', rkey(conv), 'state', 'priority', 'since', 'queue', 'channel')
if not r[1] then return 0 end
if num(r[2]) >= floor then return 1 end
redis.call('HSET', rkey(conv), 'priority', floor)
if r[1] == S_QUEUED then
  redis.call('ZADD', R .. ':q:' .. (r[4] or r[5]), queue_score(floor, num(r[3])), conv)
end
return 1
