-- A cross-group hand-off moves an open conversation's routing group (`handoff.rs`);
-- one resolved meanwhile stays where it is and is not routed again.
-- Answers 1 if moved, else 0.
local conv = KEYS[1]     -- the conversation's hash
local group = ARGV[1]    -- the new group
if redis.call('HGET', conv, 'state') ~= 'open' then return 0 end
redis.call('HSET', conv, 'group', group)
return 1
