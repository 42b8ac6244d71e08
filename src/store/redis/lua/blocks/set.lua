-- Blocks or unblocks an identity, and moves the blocklist's version when that changed
-- something, so every replica's copy (read when the version moves) follows.
-- Answers 1 if it changed something.
local blocks = KEYS[1]               -- the set of blocked identity keys
local identity = ARGV[1]             -- `kind:value`
local blocked = ARGV[2] == '1'
local changed
if blocked then
  changed = redis.call('SADD', blocks, identity)
else
  changed = redis.call('SREM', blocks, identity)
end
if changed == 1 then redis.call('INCR', blocks .. ':v') end
return changed
