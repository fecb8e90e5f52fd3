-- How many waiting jobs will start before a queued one, counting up to a limit: under round
-- robin, its own tenant's jobs ahead of it (priority, then age), and from every other tenant
-- as many (one more for a tenant served before its own in the rotation), as far as it has
-- them. Exact while no job arrives; a handed-back job (taken over first) answers 0.
-- KEYS: job hash, ready zset, tenants zset
-- ARGV: limit
local h = redis.call('HMGET', KEYS[1], 'status', 'ready')
local member, limit = h[2], tonumber(ARGV[1])
if h[1] ~= 'queued' or not member or not redis.call('ZSCORE', KEYS[2], member) then return 0 end
local tenant = string.sub(member, 1, 16)
local own = redis.call('ZLEXCOUNT', KEYS[2], '[' .. tenant, '(' .. member)
local mine = tonumber(redis.call('ZSCORE', KEYS[3], tenant) or '0')
local ahead = own
local others = redis.call('ZRANGE', KEYS[3], 0, 999, 'WITHSCORES')
for i = 1, #others, 2 do
  if ahead >= limit then break end
  if others[i] ~= tenant then
    local cap = own
    local score = tonumber(others[i + 1])
    if score < mine or (score == mine and others[i] < tenant) then cap = own + 1 end
    if cap > 0 then
      local waiting = redis.call('ZLEXCOUNT', KEYS[2], '[' .. others[i], '[' .. others[i] .. '\255')
      ahead = ahead + math.min(waiting, cap)
    end
  end
end
return math.min(ahead, limit)
