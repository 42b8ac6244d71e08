-- Forgets a conversation that no longer needs an agent (resolved, or merged away);
-- the freed unit goes at once to whoever waits for that agent, then to the queue.
-- A conversation not routed here leaves a tombstone in :gone, so a cross-group hand-off
-- still under way does not route it here afterwards (see take_over.lua).
-- A call's end (ARGV[3] = 'phone') frees only a phone route: a conversation routed on
-- another channel, or moved to a queue of its own (the supervisor's), keeps its place,
-- and no tombstone is left; the answer is then {{'kept'}}.
-- ARGV: 1 conversation, 2 now (ms), 3 only this channel (optional). Answers the
-- assignments this made.
local conv = ARGV[1]
local r = redis.call('HMGET', rkey(conv), 'state', 'agent', 'channel', 'queue')
local out = {}
if ARGV[3] and (not r[1] or r[3] ~= ARGV[3] or r[4]) then
  return {{'kept'}}
end
if not r[1] then
  redis.call('ZADD', R .. ':gone', ARGV[2], conv)
  return out
end
waiting_in(conv, nil)
redis.call('DEL', rkey(conv))
redis.call('ZREM', R .. ':relax', conv)
local state, a, ch = r[1], r[2], r[3]
if state == 'assigned' then
  unhold(conv, a, ch)
  drain(a, ch, out)
elseif state == 'waiting' then
  redis.call('ZREM', R .. ':w:' .. a .. ':' .. ch, conv)
  redis.call('ZREM', R .. ':timers', conv)
else
  redis.call('ZREM', R .. ':q:' .. (r[4] or ch), conv)
end
return out
