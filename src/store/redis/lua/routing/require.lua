-- Replaces what a routed conversation needs (`Routing::require`), relaxing again from
-- now. Queued in its channel's queue, it goes at once to the least loaded agent who fits;
-- waiting for a personal agent who no longer fits, it falls back now; a holder keeps it.
-- Answers false when it is not routed here, else the assignments this made.
local conv = ARGV[1]
local encoded_needs = ARGV[2]   -- `routing::Needs::encode`
local r = redis.call('HMGET', rkey(conv), 'state', 'agent', 'channel', 'queue')
if not r[1] then return false end
local needs = set_needs(conv, encoded_needs)
local ch, out = r[3], {}
if r[1] == S_QUEUED and not r[4] then
  place_queued(conv, ch, needs, out)
elseif r[1] == S_WAITING and not fits(r[2], needs) then
  redis.call('ZREM', R .. ':w:' .. r[2] .. ':' .. ch, conv)
  redis.call('ZREM', R .. ':timers', conv)
  fall_back(conv, ch, out)
end
return out
