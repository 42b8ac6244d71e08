-- Leaves stubs of archived conversations of one customer: each keeps its hash (marked
-- `archived`, enough to list and rate it) and loses its timeline and merge keys, but only
-- if it is still resolved at the time archived and holds as many entries as were read
-- (a reply since would otherwise be lost). Then drops the customer's expired idempotency
-- records. Answers the sequence numbers stubbed.
local c = KEYS[1]                 -- the customer hash
local v = KEYS[2]                 -- the conversation base
local now = ARGV[1]               -- ms
local triples = {unpack(ARGV, 2)} -- per conversation: sequence number, resolved_at (ms),
                                  -- entries read
local stubbed = {}
for i = 1, #triples, 3 do
  local seq, resolved_at, entries = triples[i], triples[i + 1], tonumber(triples[i + 2])
  local conv = v .. ':' .. seq
  local f = redis.call('HMGET', conv, 'state', 'resolved_at', 'archived')
  if f[1] == 'resolved' and tonumber(f[2]) == tonumber(resolved_at) and not f[3]
      and redis.call('LLEN', conv .. ':m') == entries then
    redis.call('HSET', conv, 'archived', now)
    -- `:dl` stays: its `p:` fields find the provider-id keys an erasure must drop.
    redis.call('DEL', conv .. ':m', conv .. ':abs', conv .. ':ch', conv .. ':nids')
    stubbed[#stubbed + 1] = seq
  end
end
if #stubbed > 0 then
  -- One call whatever their number: all of them (an idle customer's) or the expired ones.
  local records = redis.call('HGETALL', c .. ':dx')
  local expired = {}
  for i = 1, #records, 2 do
    local r = records[i + 1]
    if tonumber(string.sub(r, 1, string.find(r, '|', 1, true) - 1)) <= tonumber(now) then
      expired[#expired + 1] = records[i]
    end
  end
  if #expired > 0 and #expired * 2 == #records then
    redis.call('DEL', c .. ':dx')
  else
    for i = 1, #expired, 1000 do
      redis.call('HDEL', c .. ':dx', unpack(expired, i, math.min(i + 999, #expired)))
    end
  end
end
return stubbed
