-- Writes the holder routing decided onto the conversation: the mirror the ingest script
-- reads to skip routing a held conversation. Routing lives in the group's slot and the
-- conversation in the customer's, so the mirror is written after the decision; it is
-- written only while the conversation is open in the episode the decision was for (its
-- repeat contacts), so a decision that arrives after a resolve, or after the
-- conversation reopened into a later episode, never names a holder that no longer holds
-- it (which would answer every later message `already_assigned`, routed nowhere).
-- Answers 1 if written.
local conv = KEYS[1]     -- the conversation hash
local agent = ARGV[1]    -- '' clears
local episode = ARGV[2]  -- '': any
local s = redis.call('HMGET', conv, 'state', 'repeat_contacts')
if s[1] ~= 'open' then return 0 end
if episode ~= '' and (s[2] or '0') ~= episode then return 0 end
if agent == '' then
  redis.call('HDEL', conv, 'agent')
else
  redis.call('HSET', conv, 'agent', agent)
end
return 1
