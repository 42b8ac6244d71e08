-- The customer's side of the event feed (CONTRACT "Event export (v3)"): an event is
-- appended to the customer's pending list (`<customer hash>:fp`, the customer's slot) in
-- the same script as the change it records, numbered by the customer's `fseq`, so its id
-- (`<customer>/<n>`) stays the same however often the relay (`store/redis/feed_relay.rs`)
-- moves it to its shard. The caller put the customer on the relay's due list before the
-- script ran (a script that may write one and was not told so answers `announce`).
-- `first`: this is the customer's first event and the caller writes `fseq` = 1 itself
-- (with the customer it creates).
local function customer_feed(c, kind, subject, at, data, first)
  local n = first and 1 or redis.call('HINCRBY', c, 'fseq', 1)
  redis.call('RPUSH', c .. ':fp', cjson.encode({n = n, type = kind, subject = subject,
    at = tonumber(at), data = data}))
end
