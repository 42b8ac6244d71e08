-- Writes the holder routing decided onto the conversation: the mirror the ingest script
-- reads to skip routing a held conversation. Routing lives in the group's slot and the
-- conversation in the customer's, so the mirror is written after the decision; it is
-- written only while the conversation is open in the episode the decision was for (its
-- repeat contacts), so a decision that arrives after a resolve, or after the
-- conversation reopened into a later episode, never names a holder that no longer holds
-- it (which would answer every later message `already_assigned`, routed nowhere).
-- `conv` is the conversation hash; `agent` '' clears; `episode` '' is any; `now` (ms) is
-- the decision's time, kept as the first assignment's ('' keeps none); `transfer`: the
-- holder changed by a transfer (counted). Prepended to the scripts that mirror
-- (`scripts.rs`). Answers 1 if written.
local function mirror(conv, agent, episode, now, transfer)
  local s = redis.call('HMGET', conv, 'state', 'repeat_contacts', 'first_agent')
  if s[1] ~= 'open' then return 0 end
  if episode ~= '' and (s[2] or '0') ~= episode then return 0 end
  if agent == '' then
    redis.call('HDEL', conv, 'agent')
    return 1
  end
  -- The conversation's facts (`resolve.lua` reads them): who took it first, and when.
  if now ~= '' and not s[3] then
    redis.call('HSET', conv, 'agent', agent, 'first_agent', agent, 'first_assigned_at', now)
  else
    redis.call('HSET', conv, 'agent', agent)
  end
  if transfer then redis.call('HINCRBY', conv, 'transfers', 1) end
  return 1
end
