-- Replaces one timeline entry by its redacted record, only if the entry at that index is
-- still the record read (entries are only ever appended, so the index holds; a second
-- redaction racing this one finds its record changed and reads again).
-- Answers 1 when replaced, 0 when the entry changed since it was read.
local list = KEYS[1]             -- the conversation's `:m` list
local index = tonumber(ARGV[1])  -- where the entry was read
local before = ARGV[2]           -- the record as read
local after = ARGV[3]            -- the redacted record
if redis.call('LINDEX', list, index) ~= before then return 0 end
redis.call('LSET', list, index, after)
return 1
