-- Chained jobs: list a waiting job among a parent's dependants, unless the parent has ended
-- (then the caller resolves the waiting job at once). Runs in the parent's hash slot.
-- KEYS: the parent's job hash
-- ARGV: the waiting job's ref ('type:id')
-- Returns the parent's status, or 'missing' when there is no such job (any more).
local h = redis.call('HMGET', KEYS[1], 'status', 'dependants')
if not h[1] then return 'missing' end
if is_final(h[1]) then return h[1] end
if not has_word(h[2], ARGV[1]) then
  local list = h[2] or ''
  if list ~= '' then list = list .. ' ' end
  redis.call('HSET', KEYS[1], 'dependants', list .. ARGV[1])
end
return h[1]
