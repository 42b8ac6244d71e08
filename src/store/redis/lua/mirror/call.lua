-- `mirror` on its own.
local conv = KEYS[1]             -- the conversation hash
local agent = ARGV[1]            -- '' clears
local episode = ARGV[2]          -- '': any
local now = ARGV[3] or ''        -- ms: the decision's time
local transfer = ARGV[4] == '1'  -- the holder changed by a transfer
return mirror(conv, agent, episode, now, transfer)
