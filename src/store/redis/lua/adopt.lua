-- A customer nobody could serve at first gets as personal agent whoever took them
-- (routing answered the assignment as new_personal_agent), in that agent's group.
-- KEYS[1] the customer's hash. ARGV: 1 agent, 2 group, 3 the agent's life ('' if the
-- agent record has none), 4 and 5 the customer's personal agent and their life as read
-- before, when that agent has since been removed (or created again): then the customer
-- has none, unless it changed since. Answers 1 if recorded.
if redis.call('HGET', KEYS[1], 'merged_into') then return 0 end
if (ARGV[4] or '') ~= '' and redis.call('HGET', KEYS[1], 'personal_agent') == ARGV[4]
    and (redis.call('HGET', KEYS[1], 'pa_born') or '') == ARGV[5] then
  redis.call('HDEL', KEYS[1], 'personal_agent', 'pa_born')
end
if redis.call('HSETNX', KEYS[1], 'personal_agent', ARGV[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'group', ARGV[2], 'pa_born', ARGV[3])
return 1
