-- Idempotency records (`receipts.rs`), for the scripts that read them: a record is
-- `<expiry>|<receipt record>`, the expiry in seconds in base 36, or in milliseconds
-- (13 digits) as earlier versions wrote it.

-- When `record` expires, in ms.
local function dedup_expiry(record)
  local head = string.sub(record, 1, string.find(record, '|', 1, true) - 1)
  return #head < 13 and tonumber(head, 36) * 1000 or tonumber(head)
end
