-- First half of merging customer S into T: marks S merged (the first merge wins),
-- closes S's open conversation and returns what T must absorb. Idempotent: a rerun
-- returns the same snapshot, so an interrupted merge is finished by whoever meets S next.
local c = KEYS[1]        -- S's customer hash
local v = KEYS[2]        -- S's conversation base
local target = ARGV[1]   -- T's id
local now = ARGV[2]      -- ms
local cid = ARGV[3]      -- S's id
-- A customer being erased (or erased) merges with nobody.
if redis.call('HEXISTS', c, 'erasing') == 1 or redis.call('EXISTS', c .. ':erasure') == 1 then
  return 'erasing'
end
local into = redis.call('HGET', c, 'merged_into')
if not into then
  into = target
  redis.call('HSET', c, 'merged_into', into)
  local open = redis.call('HGET', c, 'open')
  if open then
    redis.call('HSET', v .. ':' .. open, 'state', 'resolved', 'resolved_at', now)
    redis.call('HSET', c, 'merged_open', cid .. '-' .. open,
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
