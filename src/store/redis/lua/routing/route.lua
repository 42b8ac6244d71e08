-- Routes one conversation that needs an agent, or answers where it already stands.
-- ARGV: 1 conversation, 2 channel, 3 priority, 4 personal agent or '', 5 now (ms),
--       6 sticky wait (ms), 7 requirements (`routing::Needs::encode`:
--       `exact|any_level|language|any_level_at|anyone_at`), 8 the conversation's episode
--       (its repeat contacts when the message joined it), 9 the life of the personal
--       agent the customer recorded ('' if none, or recorded before lives existed).
-- Race closed with resolve (two slots, two scripts each side): a route records the
-- episode it serves (`ep`), and a released one leaves the episode it ended in
-- `:end:<conv>` (a key of its own, which earlier versions' scripts never meet, kept for
-- ENDED_KEPT_MS). A message of an episode already ended (resolved while this message was
-- on its way here) is not routed again; one of a later episode (reopened) finds the
-- route that still stands and takes it over for its episode, so the late release of the
-- earlier episode leaves it alone (`release.lua`).
-- Answers by name (`answer` below): the route (state, agent, reason, queue), the
-- personal agent and whether they were chosen now (`new`) with their life (`born`), and
-- the inputs the decision read (the personal agent's presence, whether they had room and
-- fit the requirements, the least loaded fitting agent with room), so the store can
-- check the decision against the Rust placement rule (`routing::place`).
local conv, ch, priority, personal, now = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4], tonumber(ARGV[5])
local wait_ms, encoded_needs, episode, recorded_born = tonumber(ARGV[6]), ARGV[7], tonumber(ARGV[8] or '0'), ARGV[9]
local r = rkey(conv)
feed_at = now

-- The answer as name/value pairs (`placement.rs` reads them by name).
local function answer(a)
  return {'state', a.state, 'agent', a.agent or '', 'reason', a.reason, 'queue', a.queue or '',
    'personal', a.personal or '', 'new', a.new or 0, 'presence', a.presence or '',
    'room', a.room or 0, 'least_loaded', a.least_loaded or '', 'fits', a.fits or 0,
    'born', a.born or ''}
end
local held = redis.call('HMGET', r, 'state', 'agent', 'channel', 'owner', 'queue', 'since', 'ep')
if held[1] then
  if episode > num(held[7]) then redis.call('HSET', r, 'ep', episode) end
  return answer{state = held[1], agent = held[2], reason = R_ALREADY_ASSIGNED, queue = held[5] or held[3], personal = held[4]}
end
local ended = redis.call('GET', R .. ':end:' .. conv)
if ended and tonumber(ended) >= episode then
  -- Resolved after this message joined it: nothing to route.
  return answer{state = S_QUEUED, reason = R_ALREADY_ASSIGNED, queue = ch}
end
-- Leaving for another group (a cross-group transfer under way): not routed here again.
if redis.call('HEXISTS', R .. ':out', conv) == 1 then
  return answer{state = S_QUEUED, reason = R_ALREADY_ASSIGNED, queue = ch}
end
local exact = split(string.match(encoded_needs, '^[^|]*'))

local new = 0
local born = ''
-- A newly chosen personal agent's rows (`add_to_portfolio`), which left `ch`'s portfolio
-- index to the assignment's reindex.
local rows
-- Removed (perhaps created again since: a stranger then): chosen anew.
if personal == '' or not personal_alive(personal, recorded_born) then
  personal = choose_personal_agent(ch, exact) or ''
  if personal ~= '' then
    new = 1
    born, rows = add_to_portfolio(personal, ch)
  end
end
-- Not assigned to the new personal agent after all: their portfolio moves on `ch` too.
local function portfolio_on_ch()
  if rows then portfolio_moves(personal, ch, rows[ch]) end
end

-- Not routed yet, so waiting nowhere (`wq`, see `waiting_in`). Every routing writes
-- `since`: a record without it was never routed (`set_needs`). The record's fields are
-- written once, with the decision's own (`decided`).
local fresh = not held[6]
local _, needs = set_needs(conv, encoded_needs, fresh)
local function decided(...)
  return {'channel', ch, 'owner', personal, 'since', now, 'priority', priority, 'ep', episode, ...}
end
local seen_presence, seen_room, seen_fits = '', 0, 0
if personal ~= '' and fits(personal, exact) then seen_fits = 1 end
if personal ~= '' then
  local p = rows and rows[ch] or agent_row(personal, ch)
  seen_presence, seen_room = p[1] or '', num(p[3]) < num(p[2]) and 1 or 0
  if seen_fits == 0 then
    -- passed over like an offline agent: no wait for someone who does not fit
  elseif can_serve(p) then
    local reason = new == 1 and R_NEW_PERSONAL_AGENT or R_PERSONAL_AGENT
    assign(conv, personal, ch, reason, {row = p, sets = decided('wq', ''),
      rec = {nil, personal, tostring(now), '', needs.n0, needs.n1, needs.lang, tostring(episode)}})
    return answer{state = S_ASSIGNED, agent = personal, reason = reason, queue = ch, personal = personal,
      new = new, presence = seen_presence, room = seen_room, fits = 1, born = born}
  elseif p[1] == 'online' or p[1] == 'away' then
    portfolio_on_ch()
    redis.call('HSET', r, unpack(decided('wq', ch, 'state', S_WAITING, 'agent', personal)))
    waiting_in(conv, ch, {ch, now})
    redis.call('ZADD', R .. ':w:' .. personal .. ':' .. ch, now, conv)
    redis.call('ZADD', R .. ':timers', now + wait_ms, conv)
    return answer{state = S_WAITING, reason = R_WAITING_FOR_PERSONAL_AGENT, queue = ch, personal = personal,
      new = new, presence = seen_presence, room = seen_room, fits = 1, born = born}
  end
end
portfolio_on_ch()
local a = least_loaded(ch, exact)
if a then
  assign(conv, a, ch, R_FALLBACK, {sets = decided('wq', ''),
    rec = {personal == '' and '1' or nil, personal, tostring(now), '', needs.n0, needs.n1, needs.lang, tostring(episode)}})
  return answer{state = S_ASSIGNED, agent = a, reason = R_FALLBACK, queue = ch, personal = personal,
    new = new, presence = seen_presence, room = seen_room, least_loaded = a, fits = seen_fits, born = born}
end
-- Whoever takes an ownerless customer later becomes their personal agent (`assign`).
local queued = decided('wq', ch, 'state', S_QUEUED)
if personal == '' then queued[#queued + 1] = 'adopt'; queued[#queued + 1] = 1 end
redis.call('HSET', r, unpack(queued))
redis.call('ZADD', R .. ':q:' .. ch, queue_score(priority, now), conv)
waiting_in(conv, ch, {ch, now})
return answer{state = S_QUEUED, reason = R_NO_AGENT_AVAILABLE, queue = ch, personal = personal, new = new,
  presence = seen_presence, room = seen_room, fits = seen_fits, born = born}
