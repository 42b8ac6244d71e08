-- Loads customers as they really accumulate: each new customer's first message, then
-- (from whichever connection of the thread asks next) its resolution, so nothing stays
-- open or queued. Every answer must be 2xx.
dofile(os.getenv("BENCH_DIR") .. "/common.lua")
local admin = "Bearer " .. (os.getenv("ADMIN") or "bench-admin")
local to_resolve = {}

function request()
  local conv = table.remove(to_resolve)
  if conv then
    return wrk.format("POST", "/v1/conversations/" .. conv .. "/resolve",
      {["Authorization"] = admin}, "")
  end
  return message("load-" .. run .. "-" .. thread_id .. "-" .. counter)
end

function response(status, headers, body)
  local conv = body and string.match(body, '"conversation_id":"([^"]+)"')
  if conv then table.insert(to_resolve, conv) end
end
