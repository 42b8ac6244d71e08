-- Records a delivery report of a reply, unless what is known ranks as high or higher
-- (providers do not keep order: the furthest report wins, `failed` is final).
-- Answers the report recorded, or false when it changed nothing.
local conv = KEYS[1]                 -- the conversation's hash
local message = ARGV[1]              -- the reply's id
local rank = tonumber(ARGV[2])       -- the report's rank (`ReplyStatus::rank`)
local report = ARGV[3]               -- the report, JSON
if redis.call('EXISTS', conv) == 0 then return false end
local known = redis.call('HGET', conv .. ':dl', message)
if known and tonumber(string.match(known, '^(%d+)|')) >= rank then return false end
redis.call('HSET', conv .. ':dl', message, rank .. '|' .. report)
return report
