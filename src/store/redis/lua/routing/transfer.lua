-- Moves a routed conversation to another agent or a queue, freeing its holder's unit
-- (which goes at once to whoever waits). Past the transfer limit it goes to the
-- supervisor queue instead, so nobody is passed around for ever.
-- Answers {'not_routed'}, {'unavailable'} or {state, agent, queue, transfers, episode,
-- assignments...}.
local conv = ARGV[1]
local target = ARGV[2]                  -- the target agent or ''
local target_queue = ARGV[3]            -- the target queue or ''
local limit = tonumber(ARGV[4])         -- the transfer limit
-- The transfer's note: its id and `transfer_notes.rs`'s payload ('' for none), kept
-- under :notes in this same step, so the note exists exactly when the transfer does
-- (whoever finds it there writes it into the timeline).
local note_id, note = ARGV[5] or '', ARGV[6]
local r = redis.call('HMGET', rkey(conv), 'state', 'agent', 'channel', 'transfers', 'priority', 'since', 'queue', 'ep', 'wrap')
if not r[1] then return {'not_routed'} end
local ch = r[3]
local transfers = num(r[4]) + 1
local supervisor = transfers > limit
if not supervisor and target ~= '' then
  local t = redis.call('HMGET', akey(target), 'presence', 'cap:' .. ch, 'load:' .. ch)
  if redis.call('SISMEMBER', R .. ':agents', target) == 0 or t[1] ~= 'online' or num(t[3]) >= num(t[2]) then
    return {'unavailable'}
  end
end

local old = take_out(conv, r[1], r[2], ch, r[7], r[9])
redis.call('HSET', rkey(conv), 'transfers', transfers)
if note_id ~= '' then redis.call('HSET', R .. ':notes', note_id, note) end

-- Order matters: the target agent takes its unit before the old holder's freed unit
-- serves whoever waits for them; a conversation sent to its channel's queue is placed
-- last, with everyone's room known.
local to_supervisor = supervisor or target_queue == SUPERVISOR
local out = {}
local state, agent, queue = S_QUEUED, '', ch
if target ~= '' and not to_supervisor then
  redis.call('HDEL', rkey(conv), 'queue')
  -- The target of an ownerless customer becomes their personal agent.
  local adopt = redis.call('HGET', rkey(conv), 'adopt')
  local made = assign(conv, target, ch, CAUSE_TRANSFER)
  if adopt then
    made[3] = R_NEW_PERSONAL_AGENT
    out[#out + 1] = made
  end
  state, agent = S_ASSIGNED, target
else
  redis.call('HSET', rkey(conv), 'state', 'transferring')
  redis.call('HDEL', rkey(conv), 'agent')
end
if old then drain(old, ch, out) end
if state ~= S_ASSIGNED then
  local a = (not to_supervisor) and least_loaded(ch, needs_of(conv)) or nil
  if a then
    redis.call('HDEL', rkey(conv), 'queue')
    out[#out + 1] = assign(conv, a, ch, R_FALLBACK)
    state, agent = S_ASSIGNED, a
  else
    if to_supervisor then
      queue = SUPERVISOR
      redis.call('HSET', rkey(conv), 'queue', queue)
    else
      redis.call('HDEL', rkey(conv), 'queue')
    end
    redis.call('HSET', rkey(conv), 'state', S_QUEUED)
    redis.call('ZADD', R .. ':q:' .. queue, queue_score(num(r[5]), num(r[6])), conv)
    waiting_in(conv, queue)
  end
end
local answer = {state, agent, state == S_QUEUED and queue or '', transfers, r[8] or ''}
for _, a in ipairs(out) do answer[#answer + 1] = a end
return answer
