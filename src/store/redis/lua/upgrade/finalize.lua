-- Finalizes a storage format (`store::format`): the deployment writes `format` from now
-- on, unless a live replica announced it cannot read it. The check and the setting are
-- one step, so a replica that announces meanwhile is either counted or sees the new
-- format. Announcements past their time are dropped on the way.
-- Answers {'refused', replica, announcement, ...} or {'finalized', the write format}.
local gate = KEYS[1]                 -- `P:fmt:{fmt}`
local replicas = KEYS[2]             -- `P:fmt:{fmt}:replicas` (same slot)
local format = tonumber(ARGV[1])
local now = tonumber(ARGV[2])        -- ms
local previous = tonumber(ARGV[3])   -- the write format when none is stored
local current = tonumber(redis.call('HGET', gate, 'write') or previous)
local refusers = {}
local announced = redis.call('HGETALL', replicas)
for i = 1, #announced, 2 do
  local replica, value = announced[i], announced[i + 1]
  local reads, alive_until = string.match(value, '^(%d+)|(%d+)')
  if not reads or tonumber(alive_until) <= now then
    redis.call('HDEL', replicas, replica)
  elseif tonumber(reads) < format then
    refusers[#refusers + 1] = replica
    refusers[#refusers + 1] = value
  end
end
if #refusers > 0 then return {'refused', unpack(refusers)} end
if format > current then
  redis.call('HSET', gate, 'write', format, 'finalized_at', now)
  current = format
end
return {'finalized', tostring(current)}
