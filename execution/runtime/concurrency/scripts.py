"""The limiter's Lua scripts: each change of the slots or the limit is one atomic step in
Redis, whichever worker makes it."""

from __future__ import annotations

from mge_site.redis_connection import LuaScript

ACQUIRE = LuaScript("""
-- KEYS: holders, limit, peak   ARGV: now, expires at, slot id, initial limit
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
local limit = tonumber(redis.call('GET', KEYS[2]) or ARGV[4])
local held = redis.call('ZCARD', KEYS[1])
if held >= limit then return 0 end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])
if held + 1 > tonumber(redis.call('GET', KEYS[3]) or 0) then
  redis.call('SET', KEYS[3], held + 1)
end
return 1
""")

# Additive increase: a success while at least half the slots are busy earns 1/limit of a
# slot; a whole one raises the limit. Not while a periodic rule holds it down (`hold`),
# and not up to the limit the provider last refused at while that is fresh (`ceiling`).
RELEASE = LuaScript("""
-- KEYS: holders, limit, credit, hold, llm samples, counts, ceiling
-- ARGV: slot, succeeded (0/1), maximum, initial limit, latency ms ('' = none), samples kept
redis.call('ZREM', KEYS[1], ARGV[1])
if ARGV[5] ~= '' then
  redis.call('LPUSH', KEYS[5], ARGV[5])
  redis.call('LTRIM', KEYS[5], 0, tonumber(ARGV[6]) - 1)
end
if ARGV[2] ~= '1' or redis.call('EXISTS', KEYS[4]) == 1 then return 0 end
local limit = tonumber(redis.call('GET', KEYS[2]) or ARGV[4])
if limit >= tonumber(ARGV[3]) then return 0 end
local ceiling = redis.call('GET', KEYS[7])
if ceiling and limit + 1 >= tonumber(ceiling) then return 0 end
if (redis.call('ZCARD', KEYS[1]) + 1) * 2 < limit then return 0 end
local credit = tonumber(redis.call('INCRBYFLOAT', KEYS[3], 1 / limit))
if credit < 1 then return 0 end
redis.call('SET', KEYS[3], 0)
redis.call('SET', KEYS[2], limit + 1)
redis.call('HINCRBY', KEYS[6], 'probe', 1)
return limit + 1
""")

COMPARE_AND_SET = LuaScript("""
-- KEYS: limit, counts   ARGV: expected, new limit, initial limit, kind
if tonumber(redis.call('GET', KEYS[1]) or ARGV[3]) ~= tonumber(ARGV[1]) then return 0 end
redis.call('SET', KEYS[1], ARGV[2])
redis.call('HINCRBY', KEYS[2], ARGV[4], 1)
return 1
""")

# One cut per congestion event, as TCP ignores the losses of what it sent before it cut
# its window: a request sent before the last cut left under the limit that cut lowered,
# so its 429 says nothing new. A 429 for a request sent after it does: the new limit is
# still above what the provider holds, and it cuts again at once (a cold start, far
# above, comes down in a few refusals rather than one cut per round trip). The send
# time, not the slot's: a call that took its slot before the cut but sent after it found
# the provider full under the new limit, which is news too (benchmarks/README.md
# measures both). The times are the workers' clocks: a skew between machines misfiles a
# 429 or two. The last cut is kept as long as a slot taken before it can live.
CUT = LuaScript("""
-- KEYS: holders, limit, burst marker, credit, last cut, ceiling
-- ARGV: now, minimum, initial, keep, cooldown ms, ceiling ms, request sent at, lease ms
local current = tonumber(redis.call('GET', KEYS[2]) or ARGV[3])
local last_cut = redis.call('GET', KEYS[5])
if last_cut and tonumber(ARGV[7]) <= tonumber(last_cut) then return {current, current, 0} end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
local target = math.max(tonumber(ARGV[2]),
                        math.floor(redis.call('ZCARD', KEYS[1]) * tonumber(ARGV[4])))
if target >= current then return {current, current, 0} end
redis.call('SET', KEYS[2], target)
redis.call('SET', KEYS[4], 0)
redis.call('SET', KEYS[6], current, 'PX', ARGV[6])
redis.call('SET', KEYS[5], ARGV[1], 'PX', ARGV[8])
local first = redis.call('SET', KEYS[3], 1, 'NX', 'PX', ARGV[5])
return {current, target, first and 1 or 0}
""")
