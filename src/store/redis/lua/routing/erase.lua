-- A customer's erasure in one routing group: every erased conversation routed here
-- leaves routing as a resolve would (its holder's unit goes at once to whoever waits),
-- and nothing here names it or its customers afterwards: no route, end marker,
-- tombstone, hand-off, pending transfer note or portfolio drop record. The erased
-- customer's personal agent (when in this group, in the life that took them) counts
-- one customer fewer, once however often this runs (`:dropped`, cleared by `finish`).
-- Answers the assignments this made.
local now = ARGV[1]                  -- ms
local agent = ARGV[2]                -- the erased customer's personal agent here, or ''
local born = ARGV[3]                 -- the life that took them
local customer = ARGV[4]             -- the erased customer
local n = tonumber(ARGV[5])          -- how many conversation ids follow (a batch)
local convs = {unpack(ARGV, 6, 5 + n)}  -- the erased conversations
local merged = {unpack(ARGV, 6 + n)}    -- the customers merged into the erased one
local erased = {}                    -- conversation id → true
local out = {}
for _, conv in ipairs(convs) do
  erased[conv] = true
  local r = redis.call('HMGET', rkey(conv), 'state', 'agent', 'channel', 'queue', 'wrap')
  if r[1] then
    waiting_in(conv, nil)
    redis.call('DEL', rkey(conv))
    local holder = take_out(conv, r[1], r[2], r[3], r[4], r[5])
    if holder then drain(holder, r[3], out) end
  end
  redis.call('DEL', R .. ':end:' .. conv)
  redis.call('ZREM', R .. ':gone', conv)
  redis.call('ZREM', R .. ':relax', conv)
  redis.call('HDEL', R .. ':out', conv)
end
-- Customers merged into the erased one, as merges' portfolio drops recorded them.
for _, c in ipairs(merged) do redis.call('SREM', R .. ':dropped', c) end
local notes = redis.call('HGETALL', R .. ':notes')
for i = 1, #notes, 2 do
  local conv = string.match(notes[i + 1], '^([^|]*)|')
  if conv and erased[conv] then redis.call('HDEL', R .. ':notes', notes[i]) end
end
if agent ~= '' and redis.call('SADD', R .. ':dropped', customer) == 1
    and personal_alive(agent, born) then
  drop_from_portfolio(agent)
end
return out
