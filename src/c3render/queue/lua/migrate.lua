-- Jobs queued before fair share (stream entries without the 'fair' field, not yet read
-- with XREADGROUP '>') become ready in the default tenant, at normal priority; then the
-- group's read position moves to the end (nothing reads '>' any more), so the next run walks
-- only entries added since. Idempotent: a member is added once.
-- KEYS: queue stream, ready zset, tenants zset, fair hash
-- ARGV: group, default tenant id
-- Returns how many entries were made ready.
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local last = '0-0'
for _, g in ipairs(redis.call('XINFO', 'GROUPS', KEYS[1])) do
  local info = {}
  for i = 1, #g, 2 do info[g[i]] = g[i + 1] end
  if info['name'] == ARGV[1] then last = info['last-delivered-id'] end
end
local moved = 0
for _, item in ipairs(redis.call('XRANGE', KEYS[1], '(' .. last, '+')) do
  local fields, id, marked = item[2], nil, false
  for i = 1, #fields, 2 do
    if fields[i] == 'id' then id = fields[i + 1] end
    if fields[i] == 'fair' then marked = true end
  end
  if id and not marked then
    local member = ready_member(ARGV[2], PRIORITY_RANKS['normal'], item[1], id)
    redis.call('ZADD', KEYS[2], 0, member)
    redis.call('ZADD', KEYS[3], 'NX', tonumber(redis.call('HGET', KEYS[4], 'turn') or '0') - 0.5,
      ARGV[2])
    moved = moved + 1
  end
end
redis.call('XGROUP', 'SETID', KEYS[1], ARGV[1], '$')
return moved
