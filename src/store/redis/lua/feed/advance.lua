-- Moves an export sink's cursor from where the caller read it to where its page ends;
-- another replica that moved it first wins, and this one's page is a duplicate.
local key = KEYS[1]
local from = ARGV[1]   -- '' when the sink had not begun
local to = ARGV[2]
if (redis.call('GET', key) or '') ~= from then return 0 end
redis.call('SET', key, to)
return 1
