-- Reads one customer's own conversations due for the archive (resolved before `before`,
-- not archived) whole, in one step, so that the entries counted are the entries read.
-- Answers {earliest resolution (ms) of those not due yet, or '', {{seq, hash fields,
-- messages, channels, merged conversations, replies' delivery reports}, ...}}.
local c = KEYS[1]                 -- the customer hash
local v = KEYS[2]                 -- the conversation base
local before = tonumber(ARGV[1])  -- ms
local own = ARGV[2] .. '-'        -- the customer's id: their conversations' ids start so
local next_at, next_raw = nil, ''
local due = {}
for _, id in ipairs(redis.call('LRANGE', c .. ':convs', 0, -1)) do
  if string.sub(id, 1, #own) == own then
    local seq = string.sub(id, #own + 1)
    local conv = v .. ':' .. seq
    local f = redis.call('HMGET', conv, 'state', 'resolved_at', 'archived')
    local at = tonumber(f[2])
    if f[1] == 'resolved' and at and not f[3] then
      if at < before then
        due[#due + 1] = {seq, redis.call('HGETALL', conv), redis.call('LRANGE', conv .. ':m', 0, -1),
          redis.call('SMEMBERS', conv .. ':ch'), redis.call('LRANGE', conv .. ':abs', 0, -1),
          redis.call('HGETALL', conv .. ':dl')}
      elseif not next_at or at < next_at then
        next_at, next_raw = at, f[2]
      end
    end
  end
end
return {next_raw, due}
