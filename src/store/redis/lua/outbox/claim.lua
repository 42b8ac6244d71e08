-- Claims up to `limit` deliveries due by `now`: each is leased until `lease_until` by
-- pushing its due time forward inside this script, so replicas polling at once never
-- send one delivery twice at the same time; a sender that dies just lets the lease lapse.
-- Answers {id, url, body, attempts, ...}.
local base = KEYS[1]                 -- `P:ob:{ob}`
local now = ARGV[1]                  -- ms
local limit = tonumber(ARGV[2])
local lease_until = ARGV[3]          -- ms
local due = redis.call('ZRANGEBYSCORE', base .. ':due', '-inf', now, 'LIMIT', 0, limit)
local out = {}
for _, id in ipairs(due) do
  redis.call('ZADD', base .. ':due', lease_until, id)
  local attempts = redis.call('HINCRBY', base .. ':d:' .. id, 'attempts', 1)
  local d = redis.call('HMGET', base .. ':d:' .. id, 'url', 'body')
  out[#out + 1] = id
  out[#out + 1] = d[1] or ''
  out[#out + 1] = d[2] or ''
  out[#out + 1] = tostring(attempts)
end
return out
