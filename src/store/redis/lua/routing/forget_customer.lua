-- A merge took a customer from their personal agent: the survivor keeps their own (or the
-- same) personal agent, so the merged customer's agent counts one customer fewer. Once
-- per merged customer however often the merge saga runs (:dropped remembers who was
-- counted out), and only for an agent still in this group in the life that took them
-- (one created again since never counted them).
-- ARGV: 1 the merged customer, 2 the agent, 3 the life the merged customer recorded.
-- Answers 1 if the portfolio dropped.
if redis.call('SADD', R .. ':dropped', ARGV[1]) == 0 then return 0 end
if not personal_alive(ARGV[2], ARGV[3]) then return 0 end
drop_from_portfolio(ARGV[2])
return 1
