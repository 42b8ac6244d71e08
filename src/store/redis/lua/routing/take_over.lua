-- Second step of a cross-group transfer: the conversation arrives in this group for the
-- target agent, or, if they can no longer take it, the least loaded agent here, or this
-- group's queue. Idempotent: a conversation routed here already is answered as it
-- stands; one resolved since the hand-off started (a tombstone in :gone) is not routed.
-- Answers {'gone'} or {state, agent, queue, transfers, assignments...}.
local conv, target, ch = ARGV[1], ARGV[2], ARGV[3]
local priority = ARGV[4]
local since = ARGV[5]                   -- ms
local transfers = ARGV[6]
local started = tonumber(ARGV[7])       -- the hand-off's start, ms
local r = redis.call('HMGET', rkey(conv), 'state', 'agent', 'queue', 'transfers', 'channel')
if r[1] then
  return {r[1], r[2] or '', r[1] == S_ASSIGNED and '' or (r[3] or r[5]), num(r[4])}
end
local gone = redis.call('ZSCORE', R .. ':gone', conv)
if gone and tonumber(gone) >= started then return {'gone'} end
redis.call('HSET', rkey(conv), 'channel', ch, 'owner', '', 'since', since,
  'priority', priority, 'transfers', transfers)
local t = redis.call('HMGET', akey(target), 'presence', 'cap:' .. ch, 'load:' .. ch)
local out = {}
if redis.call('SISMEMBER', R .. ':agents', target) == 1 and t[1] == 'online' and num(t[3]) < num(t[2]) then
  assign(conv, target, ch, CAUSE_TRANSFER)
else
  fall_back(conv, ch, out)
end
local h = redis.call('HMGET', rkey(conv), 'state', 'agent')
local answer = {h[1], h[2] or '', h[1] == S_ASSIGNED and '' or ch, tonumber(transfers)}
for _, a in ipairs(out) do answer[#answer + 1] = a end
return answer
