-- A customer nobody could serve at first gets as personal agent whoever took them
-- (routing answered the assignment as new_personal_agent), in that agent's group.
-- Answers 1 if recorded.
local c = KEYS[1]              -- the customer's hash
local agent = ARGV[1]
local group = ARGV[2]
local born = ARGV[3]           -- the agent's life ('' if the agent record has none)
-- The customer's personal agent and their life as read before, when that agent has
-- since been removed (or created again): then the customer has none, unless it changed
-- since. '' otherwise.
local gone_agent, gone_born = ARGV[4] or '', ARGV[5] or ''
if redis.call('HGET', c, 'merged_into') then return 0 end
if gone_agent ~= '' and redis.call('HGET', c, 'personal_agent') == gone_agent
    and (redis.call('HGET', c, 'pa_born') or '') == gone_born then
  redis.call('HDEL', c, 'personal_agent', 'pa_born')
end
if redis.call('HSETNX', c, 'personal_agent', agent) == 0 then return 0 end
redis.call('HSET', c, 'group', group, 'pa_born', born)
return 1
