-- Creates or updates an agent (new agents start offline with nothing assigned).
-- Answers {1 if created, assignments...}: more capacity may take waiting work at once.
local a = ARGV[1]
local profile = ARGV[2]                  -- JSON
local caps = {ARGV[3], ARGV[4], ARGV[5], ARGV[6]}   -- per channel, in CHANNELS order
local tags = ARGV[7]     -- languages and skill levels, space-separated: what `fits` reads
local itags = ARGV[8]    -- languages and skills at their exact level: the indexes' keys
local born = ARGV[9]     -- the life a new agent starts (`Incarnation`)
local created = redis.call('SADD', R .. ':agents', a)
if created == 1 then
  redis.call('HSET', akey(a), 'portfolio', 0, 'born', born)
  set_presence(a, 'offline')
end
unindex(a)
local fields = {'profile', profile, 'tags', ' ' .. tags .. ' ', 'itags', itags}
for i, ch in ipairs(CHANNELS) do
  fields[#fields + 1] = 'cap:' .. ch
  fields[#fields + 1] = caps[i]
end
redis.call('HSET', akey(a), unpack(fields))
reindex_all(a)
local out = {created}
for _, ch in ipairs(CHANNELS) do drain(a, ch, out) end
return out
