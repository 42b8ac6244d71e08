-- Forgets a conversation that no longer needs an agent (resolved, or merged away);
-- the freed unit goes at once to whoever waits for that agent, then to the queue.
-- ARGV: 1 conversation. Answers the assignments this made.
local conv = ARGV[1]
local r = redis.call('HMGET', rkey(conv), 'state', 'agent', 'channel', 'queue')
local out = {}
if not r[1] then return out end
waiting_in(conv, nil)
redis.call('DEL', rkey(conv))
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
