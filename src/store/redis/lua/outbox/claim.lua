-- Claims up to ARGV[2] deliveries due by ARGV[1] (ms): each is leased until ARGV[3] (ms)
-- by pushing its due time forward inside this script, so replicas polling at once never
-- send one delivery twice at the same time; a sender that dies just lets the lease lapse.
-- KEYS[1] = `P:ob:{ob}`. Answers {id, url, body, attempts, ...}.
local base = KEYS[1]
local due = redis.call('ZRANGEBYSCORE', base .. ':due', '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
local out = {}
for _, id in ipairs(due) do
  redis.call('ZADD', base .. ':due', ARGV[3], id)
  local attempts = redis.call('HINCRBY', base .. ':d:' .. id, 'attempts', 1)
  local d = redis.call('HMGET', base .. ':d:' .. id, 'url', 'body')
  out[#out + 1] = id
  out[#out + 1] = d[1] or ''
  out[#out + 1] = d[2] or ''
  out[#out + 1] = tostring(attempts)
end
return out
