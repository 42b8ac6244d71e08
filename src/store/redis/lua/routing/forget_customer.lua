-- A merge took a customer from their personal agent: the survivor keeps their own (or the
-- same) personal agent, so the merged customer's agent counts one customer fewer. Once
-- per merged customer however often the merge saga runs (:dropped remembers who was
-- counted out), and only for an agent still in this group in the life that took them
-- (one created again since never counted them).
-- Answers 1 if the portfolio dropped.
local merged = ARGV[1]   -- the merged customer
local a = ARGV[2]        -- their personal agent
local born = ARGV[3]     -- the life the merged customer recorded
if redis.call('SADD', R .. ':dropped', merged) == 0 then return 0 end
if not personal_alive(a, born) then return 0 end
drop_from_portfolio(a)
return 1
