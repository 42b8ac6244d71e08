-- Writes the holder routing decided onto the conversation: the mirror the ingest script
-- reads to skip routing a held conversation. Routing lives in the group's slot and the
-- conversation in the customer's, so the mirror is written after the decision; it is
-- written only while the conversation is open in the episode the decision was for (its
-- repeat contacts), so a decision that arrives after a resolve, or after the
-- conversation reopened into a later episode, never names a holder that no longer holds
-- it (which would answer every later message `already_assigned`, routed nowhere).
-- KEYS[1] the conversation hash. ARGV: 1 the agent ('' clears), 2 the episode ('': any).
-- Answers 1 if written.
local s = redis.call('HMGET', KEYS[1], 'state', 'repeat_contacts')
if s[1] ~= 'open' then return 0 end
if ARGV[2] ~= '' and (s[2] or '0') ~= ARGV[2] then return 0 end
if ARGV[1] == '' then
  redis.call('HDEL', KEYS[1], 'agent')
else
  redis.call('HSET', KEYS[1], 'agent', ARGV[1])
end
return 1
