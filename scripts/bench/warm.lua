-- Makes every visitor a known customer: visitor i's first message, round robin.
dofile(os.getenv("BENCH_DIR") .. "/common.lua")
local next_visitor = nil
function request()
  if next_visitor == nil then next_visitor = thread_id end
  local v = next_visitor % visitors
  next_visitor = next_visitor + tonumber(os.getenv("THREADS") or "2")
  return message("visitor-" .. v)
end
