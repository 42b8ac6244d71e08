-- A cross-group hand-off moves an open conversation's routing group (`handoff.rs`);
-- one resolved meanwhile stays where it is and is not routed again.
-- KEYS[1] the conversation's hash. ARGV: 1 the new group. Answers 1 if moved, else 0.
if redis.call('HGET', KEYS[1], 'state') ~= 'open' then return 0 end
redis.call('HSET', KEYS[1], 'group', ARGV[1])
return 1
