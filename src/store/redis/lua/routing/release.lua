-- Forgets a conversation that no longer needs an agent (resolved, or merged away);
-- the freed unit goes at once to whoever waits for that agent, then to the queue.
-- A conversation not routed here leaves a tombstone in :gone, so a cross-group hand-off
-- still under way does not route it here afterwards (see take_over.lua).
-- A call's end (`only` = 'phone') frees only the call's phone unit: a conversation held
-- on one stays with its holder as after-call work (`wrap`, counted in their
-- `after_call`, no unit) and the unit serves whoever waits; a conversation routed on
-- another channel, queued or waiting (a callback), or in a queue of its own (the
-- supervisor's) keeps its place, and the answer is {{'kept'}}.
-- A resolve names the episode it ended (`episode`, see route.lua): a route serving a later
-- episode (the conversation reopened meanwhile and routing took the route over) is
-- kept ({{'kept'}}); otherwise the route goes and `:end:<conv>` remembers the episode
-- for ENDED_KEPT_MS.
-- Answers the assignments this made.
local conv = ARGV[1]
local now = ARGV[2]                              -- ms
local only = ARGV[3] or ''                       -- only this channel ('' for any)
local episode = ARGV[4] and tonumber(ARGV[4])    -- the episode ended (optional)
local r = redis.call('HMGET', rkey(conv), 'state', 'agent', 'channel', 'queue', 'ep', 'wrap')
local out = {}
feed_at = now
if only ~= '' then
  if r[1] ~= S_ASSIGNED or r[3] ~= only or r[4] or r[6] then return {{'kept'}} end
  local a, ch = r[2], r[3]
  if num(redis.call('HGET', akey(a), 'load:' .. ch)) > 0 then
    redis.call('HINCRBY', akey(a), 'load:' .. ch, -1)
  end
  redis.call('HSET', rkey(conv), 'wrap', 1)
  redis.call('HINCRBY', akey(a), 'after_call', 1)
  reindex(a, ch)
  drain(a, ch, out)
  return out
end
if episode and r[1] and num(r[5]) > episode then
  return {{'kept'}}
end
-- What ended, for a routing step of this episode that arrives late.
local function ended()
  if episode and num(redis.call('GET', R .. ':end:' .. conv)) <= episode then
    redis.call('SET', R .. ':end:' .. conv, episode, 'PX', ENDED_KEPT_MS)
  end
end
if not r[1] then
  redis.call('ZADD', R .. ':gone', now, conv)
  ended()
  return out
end
waiting_in(conv, nil)
redis.call('DEL', rkey(conv))
ended()
redis.call('ZREM', R .. ':relax', conv)
local ch = r[3]
local holder = take_out(conv, r[1], r[2], ch, r[4], r[6])
if holder then drain(holder, ch, out) end
return out
