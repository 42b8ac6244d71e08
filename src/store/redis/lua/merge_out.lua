-- First half of merging customer S into T: marks S merged (the first merge wins),
-- closes S's open conversation and returns what T must absorb. Idempotent: a rerun
-- returns the same snapshot, so an interrupted merge is finished by whoever meets S next.
-- KEYS[1] customer hash of S, KEYS[2] conversation base of S.
-- ARGV: 1 target id, 2 now (ms), 3 S's id.
local c, v = KEYS[1], KEYS[2]
local into = redis.call('HGET', c, 'merged_into')
if not into then
  into = ARGV[1]
  redis.call('HSET', c, 'merged_into', into)
  local open = redis.call('HGET', c, 'open')
  if open then
    redis.call('HSET', v .. ':' .. open, 'state', 'resolved', 'resolved_at', ARGV[2])
    redis.call('HSET', c, 'merged_open', ARGV[3] .. '-' .. open,
      'merged_open_group', redis.call('HGET', v .. ':' .. open, 'group') or DEFAULT_GROUP)
    redis.call('HDEL', c, 'open')
  end
end
local function field(name) return redis.call('HGET', c, name) or cjson.null end
return cjson.encode({
  merged_into = into,
  open = field('merged_open'),
  open_group = field('merged_open_group'),
  group = field('group'),
  personal_agent = field('personal_agent'),
  pa_born = field('pa_born'),
  display_name = field('display_name'),
  ids = redis.call('SMEMBERS', c .. ':ids'),
  convs = redis.call('LRANGE', c .. ':convs', 0, -1),
  dx = redis.call('HGETALL', c .. ':dx'),
})
