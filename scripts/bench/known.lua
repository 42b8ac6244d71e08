-- A known customer writes into their assigned conversation: the common case.
dofile(os.getenv("BENCH_DIR") .. "/common.lua")
function request()
  return message("visitor-" .. math.random(0, visitors - 1))
end
