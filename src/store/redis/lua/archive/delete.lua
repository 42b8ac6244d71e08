-- Retention's deletion of some of one customer's conversations, wherever their timelines
-- are: each one resolved before `before` (or already gone) loses its keys and its id in
-- the customer's list; one that reopened since is left alone. Answers {the customer they
-- were merged into, or '' (whose list names them too), the sequence numbers deleted...}.
local c = KEYS[1]                 -- the customer hash
local v = KEYS[2]                 -- the conversation base
local before = tonumber(ARGV[1])  -- ms
local owner = ARGV[2]             -- the customer's id
local seqs = {unpack(ARGV, 3)}    -- the conversations' sequence numbers
local deleted = {redis.call('HGET', c, 'merged_into') or ''}
for _, seq in ipairs(seqs) do
  local conv = v .. ':' .. seq
  local f = redis.call('HMGET', conv, 'state', 'resolved_at')
  local gone = not f[1]
  if gone or (f[1] == 'resolved' and tonumber(f[2]) and tonumber(f[2]) < before) then
    redis.call('DEL', conv, conv .. ':m', conv .. ':abs', conv .. ':ch', conv .. ':nids',
      conv .. ':wcall')
    redis.call('LREM', c .. ':convs', 0, owner .. '-' .. seq)
    if redis.call('HGET', c, 'last') == seq then redis.call('HDEL', c, 'last') end
    deleted[#deleted + 1] = seq
  end
end
return deleted
