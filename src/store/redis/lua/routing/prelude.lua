-- Shared by every routing script (prepended in Rust). A routing group's state lives
-- under KEYS[1] = `P:rt:{rt}` (the default group) or `P:rt:{rt:<group>}`, one hash slot,
-- so capacity checks and assignments are atomic: no agent is ever over capacity and no
-- conversation is assigned twice, whatever the number of replicas. Groups never share
-- a script. Layout (suffixes of KEYS[1]):
--   :agents            set    agent ids
--   :a:<agent>         hash   profile, presence, cap:<ch>, load:<ch>, portfolio, tags,
--                             after_call (conversations held whose call ended)
--                             (' l:es s:billing:1 s:billing:2 ': what `fits` reads), itags
--                             ('l:es s:billing=2': the index entries, skills at their level)
--                             born (the life of the id, `Incarnation`)
--   :pf:<ch>           zset   online agents with room on <ch>, by portfolio * 2^20 + load
--                             (a new customer's personal agent: someone who can serve now)
--   :free:<ch>         zset   online agents with room on <ch>, by load (fallback choice)
--   :free:<ch>:<itag>  zset   the same as :free, only agents with <itag> (`l:es`, or
--                             `s:billing=3`: billing at exactly level 3)
--   :pf:<itag>         zset   online agents with <itag>, by portfolio (room is checked when
--                             choosing); a choice under requirements reads the first
--                             CANDIDATES of its rarest need's indexes (`s:billing:3` reads
--                             `s:billing=3..5` as one)
--   :r:<conv>          hash   channel, state (assigned|waiting|queued), agent, owner, since,
--                             priority, transfers, queue (only when not the channel's),
--                             wq (the :wait: queue it is counted in, '' none),
--                             adopt (1: nobody could serve the ownerless customer; whoever
--                             takes it becomes their personal agent); with requirements:
--                             needs (tags required now), n0 (at first), n1 (any level),
--                             lang, step (0, 1, 2), t2 (when nothing is required, ms);
--                             ep (the conversation's episode: its repeat contacts),
--                             wrap (1: its call ended; held as after-call work, no unit)
--   :end:<conv>        string the episode a resolve ended, kept ENDED_KEPT_MS (route.lua)
--   :dropped           set    merged customers already counted out of a portfolio
--   :notes             hash   transfers' notes not yet in their timeline, by note id
--                             (`transfer_notes.rs`)
--   :relax             zset   conversations with requirements, by when they next relax
--   :q:<ch>            zset   queued conversations, by priority then time waited
--   :q:supervisor      zset   conversations transferred too often (nobody drains it automatically)
--   :w:<agent>:<ch>    zset   conversations waiting for their personal agent, by since
--   :timers            zset   waiting conversations, by the deadline of their sticky wait
--   :ev:<agent>        stream the agent's events (capped), replayed by Last-Event-ID
--   :feed              stream the group's shard of the event feed (CONTRACT "Event export
--                             (v3)"): type, subject, data (JSON: ids and figures, never
--                             text); trimmed by time (`store::FeedStore`)
--   :evseq             string counts the group's events: the shared poll reads the
--                             streams only when it moved
--   :former            set    agents removed (their event logs stay; an erasure scrubs them)
--   :held:<agent>      zset   conversations the agent holds, by since
--   :graces            zset   offline agents, by when their conversations go back to routing
--   :wait:<queue>      zset   every conversation waiting in <queue> (a channel, or supervisor),
--                             queued or waiting for its personal agent, by since: the
--                             deployment-wide queue depth and oldest wait
--   :presence:<status> set    agents by presence (online, away, offline)
--   :out               hash   conversations handed off to another group: where to, and
--                             what they carry (hand_off.lua), until the hand-off is done
--   :gone              zset   conversations released while not routed here, by when
--                             (tombstones that stop a late hand-off; pruned after a day)
local R = KEYS[1]

local function akey(a) return R .. ':a:' .. a end
local function rkey(conv) return R .. ':r:' .. conv end
local function num(v) return tonumber(v or '0') or 0 end

-- Space-separated words as a list.
local function split(s)
  local t = {}
  for w in string.gmatch(s or '', '%S+') do t[#t + 1] = w end
  return t
end

-- Agent `a`'s row on channel `ch`: {presence, cap:<ch>, load:<ch>, portfolio, itags}.
local function agent_row(a, ch)
  return redis.call('HMGET', akey(a), 'presence', 'cap:' .. ch, 'load:' .. ch, 'portfolio', 'itags')
end

-- Whether an agent's row on a channel is online with room: they are in its choice indexes.
local function can_serve(row)
  return row[1] == 'online' and num(row[3]) < num(row[2])
end

-- Keeps the channel's choice indexes in step with an agent's load, room and presence:
-- the plain ones, and the per-tag copies of :free (by load). `row` is the agent's
-- {presence, cap:<ch>, load:<ch>, portfolio, itags} when the caller holds them already
-- (read or written in this script), else they are read.
local function reindex(a, ch, row)
  local h = row or agent_row(a, ch)
  local load = num(h[3])
  local pf, free = R .. ':pf:' .. ch, R .. ':free:' .. ch
  local tags = split(h[5])
  if can_serve(h) then
    redis.call('ZADD', pf, num(h[4]) * 1048576 + load, a)
    redis.call('ZADD', free, load, a)
    for _, t in ipairs(tags) do redis.call('ZADD', free .. ':' .. t, load, a) end
  else
    redis.call('ZREM', pf, a)
    redis.call('ZREM', free, a)
    for _, t in ipairs(tags) do redis.call('ZREM', free .. ':' .. t, a) end
  end
end

-- Keeps :pf:<tag> (online agents with <tag>, by portfolio; the personal-agent choice
-- under requirements checks room itself) in step with presence and portfolio.
local function reindex_tags(a, known)
  local h = known or redis.call('HMGET', akey(a), 'presence', 'portfolio', 'itags')
  for _, t in ipairs(split(h[3])) do
    if h[1] == 'online' then
      redis.call('ZADD', R .. ':pf:' .. t, num(h[2]), a)
    else
      redis.call('ZREM', R .. ':pf:' .. t, a)
    end
  end
end

local function reindex_all(a)
  for _, ch in ipairs(CHANNELS) do reindex(a, ch) end
  reindex_tags(a)
end

-- The fields of agent `a` that `add_to_portfolio` and `reindex` read, in one read.
local AGENT_ROW = {'presence', 'itags', 'born'}
for _, ch in ipairs(CHANNELS) do
  AGENT_ROW[#AGENT_ROW + 1] = 'cap:' .. ch
  AGENT_ROW[#AGENT_ROW + 1] = 'load:' .. ch
end

-- One customer more for `a` in channel `ch`'s portfolio index, which holds them only
-- while `row` (their row on `ch`) can serve.
local function portfolio_moves(a, ch, row)
  if can_serve(row) then redis.call('ZADD', R .. ':pf:' .. ch, 'XX', 'INCR', 1048576, a) end
end

-- A new customer for `a`: the portfolio orders only the :pf indexes, and only those that
-- hold the agent (online with room on the channel, as `reindex` keeps them). `later`
-- names a channel the caller reindexes itself right after (`reindex` writes the whole
-- score), or is nil. Answers what it read: the agent's life (`born`) and, per channel,
-- the row `reindex` takes.
local function add_to_portfolio(a, later)
  local portfolio = redis.call('HINCRBY', akey(a), 'portfolio', 1)
  local h = redis.call('HMGET', akey(a), unpack(AGENT_ROW))
  local rows = {}
  for i, ch in ipairs(CHANNELS) do
    rows[ch] = {h[1], h[2 + 2 * i], h[3 + 2 * i], portfolio, h[2]}
    if ch ~= later then portfolio_moves(a, ch, rows[ch]) end
  end
  reindex_tags(a, {h[1], portfolio, h[2]})
  return h[3] or '', rows
end

-- A customer of `a` merged into one who keeps their own personal agent: one customer
-- fewer (`RoutingEngine::drop_from_portfolio`).
-- Whether `a` is an agent of this group in the life `born` names ('': a record older
-- than lives, any life; `Incarnation::same`): one removed and created again since is a
-- stranger to the customers who had the old one.
local function personal_alive(a, born)
  if redis.call('SISMEMBER', R .. ':agents', a) == 0 then return false end
  if born == nil or born == '' then return true end
  local now = redis.call('HGET', akey(a), 'born')
  return not now or now == '' or now == born
end

local function drop_from_portfolio(a)
  if num(redis.call('HGET', akey(a), 'portfolio')) == 0 then return end
  redis.call('HINCRBY', akey(a), 'portfolio', -1)
  reindex_all(a)
end

-- Takes an agent out of every choice index (removed, moved, or about to change tags).
local function unindex(a)
  local tags = split(redis.call('HGET', akey(a), 'itags'))
  for _, ch in ipairs(CHANNELS) do
    local pf, free = R .. ':pf:' .. ch, R .. ':free:' .. ch
    redis.call('ZREM', pf, a)
    redis.call('ZREM', free, a)
    for _, t in ipairs(tags) do redis.call('ZREM', free .. ':' .. t, a) end
  end
  for _, t in ipairs(tags) do redis.call('ZREM', R .. ':pf:' .. t, a) end
end

-- Whether agent `a` has every tag in `needs` (`Routing` `AgentRec::fits`).
local function fits(a, needs)
  if #needs == 0 then return true end
  local tags = redis.call('HGET', akey(a), 'tags') or ''
  for _, t in ipairs(needs) do
    if not string.find(tags, ' ' .. t .. ' ', 1, true) then return false end
  end
  return true
end

-- The tags a conversation needs now.
local function needs_of(conv)
  return split(redis.call('HGET', rkey(conv), 'needs'))
end

-- The index keys a need reads under `prefix`: `l:es` is one; `s:billing:3` is the
-- exact-level indexes `s:billing=3` .. `s:billing=5` (an agent is indexed at its level).
local function index_keys(prefix, need)
  local skill, level = string.match(need, '^s:(.+):(%d)$')
  if not skill then return {prefix .. need} end
  local keys = {}
  for k = tonumber(level), 5 do keys[#keys + 1] = prefix .. 's:' .. skill .. '=' .. k end
  return keys
end

-- The keys of the rarest of `needs` under `prefix` (the fewest agents in total).
local function rarest(prefix, needs)
  local best, n
  for _, need in ipairs(needs) do
    local keys, c = index_keys(prefix, need), 0
    for _, k in ipairs(keys) do c = c + redis.call('ZCARD', k) end
    if not n or c < n then best, n = keys, c end
  end
  return best, n
end

-- Members `from`..`to` (0-based) of the union of `keys`, in score then member order:
-- what one sorted set holding them all would answer.
local function union_range(keys, from, to)
  if #keys == 1 then return redis.call('ZRANGE', keys[1], from, to) end
  local all = {}
  for _, k in ipairs(keys) do
    local page = redis.call('ZRANGE', k, 0, to, 'WITHSCORES')
    for i = 1, #page, 2 do all[#all + 1] = {tonumber(page[i + 1]), page[i]} end
  end
  table.sort(all, function(x, y) return x[1] < y[1] or (x[1] == y[1] and x[2] < y[2]) end)
  local out = {}
  for i = from + 1, math.min(to + 1, #all) do out[#out + 1] = all[i][2] end
  return out
end

-- The first agent among the first CANDIDATES of the union of `keys` for whom `ok` holds,
-- read a few at a time (the first usually is the one).
local function first_of(keys, ok)
  local from = 0
  while from < CANDIDATES do
    local to = math.min(from == 0 and 3 or CANDIDATES, CANDIDATES) - 1
    for _, a in ipairs(union_range(keys, from, to)) do
      if ok(a) then return a end
    end
    from = to + 1
  end
  return nil
end

-- The least loaded agent with room on `ch` who fits `needs`: among the first
-- CANDIDATES (by load) of the rarest needed tag's index (`Routing::least_loaded`).
local function least_loaded(ch, needs)
  if not needs or #needs == 0 then return redis.call('ZRANGE', R .. ':free:' .. ch, 0, 0)[1] end
  local keys, n = rarest(R .. ':free:' .. ch .. ':', needs)
  if n == 0 then return nil end
  return first_of(keys, function(a) return fits(a, needs) end)
end

-- A new customer's personal agent: online, with room on `ch`, fitting `needs`; the
-- smallest portfolio, then the lowest load (`Routing::choose_personal_agent`). Under
-- requirements: the first of the rarest needed tag's index (by portfolio, then id) who
-- has room and fits, among its first CANDIDATES; ties in portfolio go by id, not load.
local function choose_personal_agent(ch, needs)
  if #needs == 0 then return redis.call('ZRANGE', R .. ':pf:' .. ch, 0, 0)[1] end
  local keys, n = rarest(R .. ':pf:', needs)
  if n == 0 then return nil end
  return first_of(keys, function(a)
    local h = redis.call('HMGET', akey(a), 'cap:' .. ch, 'load:' .. ch)
    return num(h[2]) < num(h[1]) and fits(a, needs)
  end)
end

-- Sets what `conv` needs from `encoded` (`routing::Needs::encode`:
-- `exact|any_level|language|any_level_at|anyone_at`), at its first step, with its
-- relaxing timer; answers the tags needed now, and the record's `n0`, `n1` and `lang` as
-- written (nil: none). A `fresh` record (never routed: release
-- deletes records and their timers) has no earlier needs to clear.
local function set_needs(conv, encoded, fresh)
  local n = {}
  for part in string.gmatch(encoded .. '|', '([^|]*)|') do n[#n + 1] = part end
  if not fresh then
    redis.call('HDEL', rkey(conv), 'needs', 'n0', 'n1', 'lang', 'step', 't2')
    redis.call('ZREM', R .. ':relax', conv)
  end
  if n[1] == '' then return {}, {} end
  redis.call('HSET', rkey(conv), 'needs', n[1], 'n0', n[1], 'n1', n[2], 'lang', n[3], 'step', 0)
  if n[5] ~= '' then redis.call('HSET', rkey(conv), 't2', n[5]) end
  local due = (n[4] ~= '' and n[4]) or (n[5] ~= '' and n[5])
  if due then redis.call('ZADD', R .. ':relax', due, conv) end
  return split(n[1]), {n0 = n[1], n1 = n[2], lang = n[3]}
end

-- How agent `a` fits what a conversation first needed (`routing::Fit`: its record's
-- `n0`, `n1`), and its language.
local function fit_of(a, n0, n1, lang)
  if not n0 or n0 == '' then return 'none', '' end
  local fit = 'unmet'
  if fits(a, split(n0)) then fit = 'met' elseif fits(a, split(n1)) then fit = 'relaxed' end
  return fit, lang or ''
end

local function queue_score(priority, since)
  return (9 - math.min(9, priority)) * 1e13 + since
end

-- Counts `conv` as waiting in `queue` (or no longer waiting anywhere, with nil). The
-- record's `wq` names the queue it waits in ('' none), so only that one is left; a
-- record of an earlier version, without `wq`, leaves every queue. `known` is the
-- record's {wq, since} when the caller has just written them.
local function waiting_in(conv, queue, known)
  local h = known or redis.call('HMGET', rkey(conv), 'wq', 'since')
  local was = h[1]
  if not was then
    for _, q in ipairs(QUEUES) do redis.call('ZREM', R .. ':wait:' .. q, conv) end
  elseif was ~= '' and was ~= queue then
    redis.call('ZREM', R .. ':wait:' .. was, conv)
  end
  if queue then redis.call('ZADD', R .. ':wait:' .. queue, num(h[2]), conv) end
  if was ~= (queue or '') then redis.call('HSET', rkey(conv), 'wq', queue or '') end
end

local function set_presence(a, presence)
  for _, p in ipairs({'online', 'away', 'offline'}) do redis.call('SREM', R .. ':presence:' .. p, a) end
  if presence then
    redis.call('SADD', R .. ':presence:' .. presence, a)
    redis.call('HSET', akey(a), 'presence', presence)
  end
end

local function event(a, kind, conv, reason, other)
  redis.call('XADD', R .. ':ev:' .. a, 'MAXLEN', '~', EVENTS_KEPT, '*',
    'kind', kind, 'conversation', conv, 'reason', reason, 'agent', other)
  redis.call('INCR', R .. ':evseq')
end

-- An entry of the group's event feed, in the same script as the change it records, so
-- it exists exactly when the change does.
-- Its `at` is the script's own `now` (the caller's clock, as the customer's slot records
-- the same moment, so facts and events agree), which each script that has one names in
-- `feed_at`; else the server's.
local feed_at
local function feed(kind, subject, data)
  local at = feed_at
  if not at then
    local t = redis.call('TIME')
    at = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  end
  redis.call('XADD', R .. ':feed', '*', 'type', kind, 'subject', subject, 'at', at,
    'data', cjson.encode(data))
end

-- Gives `conv` to agent `a`, taking one unit of `ch`, and tells them (and, when someone
-- else covers a customer, their personal agent); answers the assignment. Events are
-- written in the same script as the assignment, so none is ever lost or invented.
-- `known`, from a caller that decided on a record it has not written yet (route.lua):
-- `rec`, the record's fields as below; `sets`, the fields to write with the assignment;
-- `row`, agent `a`'s row on `ch` as `reindex` takes it (nil: read).
local function assign(conv, a, ch, reason, known)
  -- Everything of the record this reads, in one read.
  local r = known and known.rec
    or redis.call('HMGET', rkey(conv), 'adopt', 'owner', 'since', 'wq', 'n0', 'n1', 'lang', 'ep')
  local owner, since = r[2] or '', r[3]
  local sets = {'state', S_ASSIGNED, 'agent', a}
  for _, v in ipairs(known and known.sets or {}) do sets[#sets + 1] = v end
  local row = known and known.row
  -- An ownerless customer nobody could serve at first: whoever takes them is their
  -- personal agent from now on (`Routing::adopt`).
  if r[1] then
    owner = a
    sets[#sets + 1] = 'owner'
    sets[#sets + 1] = a
    if not known then redis.call('HDEL', rkey(conv), 'adopt') end
    local _, rows = add_to_portfolio(a, ch)
    row = rows[ch]
    if reason ~= CAUSE_TRANSFER then reason = R_NEW_PERSONAL_AGENT end
  end
  redis.call('HSET', rkey(conv), unpack(sets))
  waiting_in(conv, nil, {r[4], since})
  local load = redis.call('HINCRBY', akey(a), 'load:' .. ch, 1)
  redis.call('ZADD', R .. ':held:' .. a, num(since), conv)
  if row then row = {row[1], row[2], load, row[4], row[5]} end
  reindex(a, ch, row)
  if reason == CAUSE_TRANSFER then
    event(a, EV_CONVERSATION_TRANSFERRED, conv, reason, '')
  else
    event(a, EV_CONVERSATION_ASSIGNED, conv, reason, '')
  end
  if owner ~= '' and owner ~= a and reason ~= CAUSE_TRANSFER then
    event(owner, EV_CONVERSATION_COVERED, conv, reason, a)
  end
  feed(reason == CAUSE_TRANSFER and FEED_CONVERSATION_TRANSFERRED or FEED_CONVERSATION_ASSIGNED,
    conv, {conversation_id = conv, agent_id = a, channel = ch, reason = reason,
      personal_agent_id = owner, waiting_since_ms = num(since)})
  local fit, lang = fit_of(a, r[5], r[6], r[7])
  -- The episode, so the holder's mirror is written only on the episode it belongs to.
  return {conv, a, reason, ch, since, fit, lang, r[8] or ''}
end

-- A wait (or a hold) is over: the least loaded online agent takes it, or it joins the
-- queue. A queued one is reported with no agent, so its `agent` mirror is cleared.
local function fall_back(conv, ch, out)
  local a = least_loaded(ch, needs_of(conv))
  if a then
    out[#out + 1] = assign(conv, a, ch, R_FALLBACK)
  else
    local r = redis.call('HMGET', rkey(conv), 'priority', 'since', 'ep')
    redis.call('HSET', rkey(conv), 'state', S_QUEUED)
    redis.call('HDEL', rkey(conv), 'agent')
    redis.call('ZADD', R .. ':q:' .. ch, queue_score(num(r[1]), num(r[2])), conv)
    waiting_in(conv, ch)
    out[#out + 1] = {conv, '', S_QUEUED, ch, r[2], r[3] or ''}
  end
end

-- Gives a conversation queued in channel `ch`'s queue to the least loaded agent who fits
-- `needs` now, if any (`Routing::place_queued`): its own personal agent takes it as such.
local function place_queued(conv, ch, needs, out)
  local a = least_loaded(ch, needs)
  if not a then return end
  redis.call('ZREM', R .. ':q:' .. ch, conv)
  local own = redis.call('HGET', rkey(conv), 'owner') == a
  out[#out + 1] = assign(conv, a, ch, own and R_PERSONAL_AGENT or R_FALLBACK)
end

-- Takes `conv` from its holder `a`, giving the unit back; one whose call ended (`wrap`:
-- held as after-call work, without a unit, see release.lua) leaves the agent's
-- after-call count instead (`Routing::unhold`).
local function unhold(conv, a, ch, wrap)
  if wrap then
    redis.call('HDEL', rkey(conv), 'wrap')
    if num(redis.call('HGET', akey(a), 'after_call')) > 0 then
      redis.call('HINCRBY', akey(a), 'after_call', -1)
    end
  elseif num(redis.call('HGET', akey(a), 'load:' .. ch)) > 0 then
    redis.call('HINCRBY', akey(a), 'load:' .. ch, -1)
  end
  redis.call('ZREM', R .. ':held:' .. a, conv)
  reindex(a, ch)
end

-- Hands every conversation `a` holds back to routing (least loaded online agent, or the
-- queue), oldest first; the owners stay.
-- Takes a conversation out of wherever its route stands (state, agent, channel, queue,
-- wrap as its record holds them): its holder's unit (`unhold`), its personal agent's
-- wait, or its queue. Answers the holder, whose freed unit the caller hands on
-- (`drain`). `Routing::take_out` in Rust.
local function take_out(conv, state, a, ch, queue, wrap)
  if state == S_ASSIGNED then
    unhold(conv, a, ch, wrap)
    return a
  elseif state == S_WAITING then
    redis.call('ZREM', R .. ':w:' .. a .. ':' .. ch, conv)
    redis.call('ZREM', R .. ':timers', conv)
  else
    redis.call('ZREM', R .. ':q:' .. (queue or ch), conv)
  end
  return nil
end

local function hand_back(a, out)
  for _, conv in ipairs(redis.call('ZRANGE', R .. ':held:' .. a, 0, -1)) do
    local h = redis.call('HMGET', rkey(conv), 'channel', 'wrap')
    unhold(conv, a, h[1], h[2])
    fall_back(conv, h[1], out)
  end
end

-- Nobody waits for an agent who left: the customers waiting for `a` on `ch` fall back
-- now, oldest first.
local function release_waiting(a, ch, out)
  local wkey = R .. ':w:' .. a .. ':' .. ch
  for _, conv in ipairs(redis.call('ZRANGE', wkey, 0, -1)) do
    redis.call('ZREM', R .. ':timers', conv)
    fall_back(conv, ch, out)
  end
  redis.call('DEL', wkey)
end

-- Fills agent `a`'s free units on `ch`: their own waiting customers first, then the
-- queue, passing over what they do not fit.
local function drain(a, ch, out)
  while true do
    local h = redis.call('HMGET', akey(a), 'presence', 'cap:' .. ch, 'load:' .. ch)
    if h[1] ~= 'online' or num(h[3]) >= num(h[2]) then return end
    local wkey = R .. ':w:' .. a .. ':' .. ch
    local conv = redis.call('ZRANGE', wkey, 0, 0)[1]
    if conv then
      redis.call('ZREM', wkey, conv)
      redis.call('ZREM', R .. ':timers', conv)
    else
      -- Only what they fit, among the first QUEUE_SCAN in queue order.
      for _, c in ipairs(redis.call('ZRANGE', R .. ':q:' .. ch, 0, QUEUE_SCAN - 1)) do
        if fits(a, needs_of(c)) then conv = c break end
      end
      if not conv then return end
      redis.call('ZREM', R .. ':q:' .. ch, conv)
    end
    local owner = redis.call('HGET', rkey(conv), 'owner')
    out[#out + 1] = assign(conv, a, ch, owner == a and R_PERSONAL_AGENT or R_FALLBACK)
  end
end
