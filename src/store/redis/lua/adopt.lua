-- A customer nobody could serve at first gets as personal agent whoever took them
-- (routing answered the assignment as new_personal_agent), in that agent's group.
-- KEYS[1] the customer's hash. ARGV: 1 agent, 2 group. Answers 1 if recorded.
if redis.call('HGET', KEYS[1], 'merged_into') then return 0 end
if redis.call('HSETNX', KEYS[1], 'personal_agent', ARGV[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'group', ARGV[2])
return 1
