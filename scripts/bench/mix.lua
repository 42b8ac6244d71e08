-- Nine known customers' messages to one new customer's.
dofile(os.getenv("BENCH_DIR") .. "/common.lua")
function request()
  if math.random(1, 10) == 1 then
    return message("new-" .. run .. "-" .. thread_id .. "-" .. counter)
  end
  return message("visitor-" .. math.random(0, visitors - 1))
end
