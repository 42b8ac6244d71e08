-- Claims a conversation's out-of-hours answer for one closed period: the first message
-- of the period holds it (and so does its retry, the same message); any other message of
-- that period does not. Answers 1 if `message` holds it.
local conv = KEYS[1]                 -- the conversation's hash
local period = ARGV[1]               -- when the closed period ends (ms)
local message = ARGV[2]              -- the message asking
if redis.call('EXISTS', conv) == 0 then return 0 end
local held = redis.call('HGET', conv, 'ooh')
local claim = period .. '|' .. message
if held == claim then return 1 end
if held and string.sub(held, 1, #period + 1) == period .. '|' then return 0 end
redis.call('HSET', conv, 'ooh', claim)
return 1
