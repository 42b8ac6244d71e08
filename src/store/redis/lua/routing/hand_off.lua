-- First step of a transfer to an agent of another routing group (see `handoff.rs`): the
-- conversation leaves this group, its holder's freed unit going at once to whoever
-- waits, and a hand-off record under :out says where it is going, so whoever finds the
-- hand-off half done finishes it. Rerunning it answers the same record.
-- Answers {'not_routed'}, {'limit'} (past it: an ordinary transfer, to the supervisor),
-- or {record, assignments...}; a record is `group|agent|channel|priority|since|transfers|started`.
local conv = ARGV[1]
local target_group = ARGV[2]
local target = ARGV[3]                 -- the target agent
local now = ARGV[4]                    -- ms
local limit = tonumber(ARGV[5])        -- the transfer limit
-- The transfer's note (id and payload, '' for none), kept under :notes as
-- `transfer.lua` does.
local note_id, note = ARGV[6] or '', ARGV[7]
local out_key = R .. ':out'
local r = redis.call('HMGET', rkey(conv), 'state', 'agent', 'channel', 'transfers', 'priority', 'since', 'queue', 'wrap')
feed_at = now
if not r[1] then
  local record = redis.call('HGET', out_key, conv)
  if record then return {record} end
  return {'not_routed'}
end
local ch = r[3]
local transfers = num(r[4]) + 1
if transfers > limit then return {'limit'} end
local record = table.concat({target_group, target, ch, num(r[5]), num(r[6]), transfers, now}, '|')
redis.call('HSET', out_key, conv, record)
if note_id ~= '' then redis.call('HSET', R .. ':notes', note_id, note) end
waiting_in(conv, nil)
redis.call('DEL', rkey(conv))
redis.call('ZREM', R .. ':relax', conv)
local out = {record}
local holder = take_out(conv, r[1], r[2], ch, r[7], r[8])
if holder then drain(holder, ch, out) end
return out
