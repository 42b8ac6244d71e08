-- Creates or updates an agent (new agents start offline with nothing assigned).
-- ARGV: 1 agent, 2 profile JSON, 3-6 capacity for phone, email, chat, social,
--       7 tags (languages and skill levels, space-separated: what `fits` reads),
--       8 index tags (languages and skills at their exact level: the indexes' keys),
--       9 the life a new agent starts (`Incarnation`; kept while the agent lives).
-- Answers {1 if created, assignments...}: more capacity may take waiting work at once.
local a = ARGV[1]
local created = redis.call('SADD', R .. ':agents', a)
if created == 1 then
  redis.call('HSET', akey(a), 'portfolio', 0, 'born', ARGV[9])
  set_presence(a, 'offline')
end
unindex(a)
redis.call('HSET', akey(a), 'profile', ARGV[2],
  'cap:phone', ARGV[3], 'cap:email', ARGV[4], 'cap:chat', ARGV[5], 'cap:social', ARGV[6],
  'tags', ' ' .. ARGV[7] .. ' ', 'itags', ARGV[8])
reindex_all(a)
local out = {created}
for _, ch in ipairs(CHANNELS) do drain(a, ch, out) end
return out
