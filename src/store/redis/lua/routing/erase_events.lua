-- Deletes the events about erased customers' conversations from some agents' logs
-- (ARGV: how many agents, the agents, then the erased customers' ids: a conversation id
-- is `<customer>-<n>`). A batch of agents per call keeps each call short.
-- Answers how many events went.
local n = tonumber(ARGV[1])
local agents = {unpack(ARGV, 2, 1 + n)}
local customers = {unpack(ARGV, 2 + n)}
local prefixes = {}
for _, c in ipairs(customers) do prefixes[#prefixes + 1] = c .. '-' end
local function erased(conv)
  for _, p in ipairs(prefixes) do
    if string.sub(conv, 1, #p) == p then return true end
  end
  return false
end
local gone = 0
for _, a in ipairs(agents) do
  local log = R .. ':ev:' .. a
  for _, entry in ipairs(redis.call('XRANGE', log, '-', '+')) do
    local fields = entry[2]
    for j = 1, #fields, 2 do
      if fields[j] == 'conversation' and erased(fields[j + 1]) then
        gone = gone + redis.call('XDEL', log, entry[1])
      end
    end
  end
end
return gone
