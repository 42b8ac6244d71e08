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
local now = ARGV[3] or '' -- ms: the decision's time, kept as the first assignment's
local transfer = ARGV[4] == '1'  -- the holder changed by a transfer (counted)
local s = redis.call('HMGET', conv, 'state', 'repeat_contacts')
if s[1] ~= 'open' then return 0 end
if episode ~= '' and (s[2] or '0') ~= episode then return 0 end
if agent == '' then
  redis.call('HDEL', conv, 'agent')
else
  redis.call('HSET', conv, 'agent', agent)
  -- The conversation's facts (`resolve.lua` reads them): who took it first, and when.
  if now ~= '' and redis.call('HSETNX', conv, 'first_agent', agent) == 1 then
    redis.call('HSET', conv, 'first_assigned_at', now)
  end
  if transfer then redis.call('HINCRBY', conv, 'transfers', 1) end
end
return 1
