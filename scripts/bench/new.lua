-- A new customer's first message: identity claimed, customer and conversation created,
-- routed.
dofile(os.getenv("BENCH_DIR") .. "/common.lua")
function request()
  return message("new-" .. run .. "-" .. thread_id .. "-" .. counter)
end
