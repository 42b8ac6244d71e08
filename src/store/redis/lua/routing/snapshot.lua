-- The deployment-wide picture for the gauges: per queue, how many conversations wait
-- and since when the oldest; agents per presence. Bounded by the number of queues.
-- Answers {queue, depth, oldest since (ms) or '', ... , 'agents', online, away, offline}.
local out = {}
for _, q in ipairs(QUEUES) do
  local key = R .. ':wait:' .. q
  local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
  out[#out + 1] = q
  out[#out + 1] = redis.call('ZCARD', key)
  out[#out + 1] = oldest[2] or ''
end
out[#out + 1] = 'agents'
for _, p in ipairs({'online', 'away', 'offline'}) do
  out[#out + 1] = redis.call('SCARD', R .. ':presence:' .. p)
end
return out
