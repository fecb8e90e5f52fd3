-- How many entries wait ahead of a queued entry, counting up to a limit.
-- KEYS: queue stream. ARGV: group, entry, limit
local groups = redis.call('XINFO', 'GROUPS', KEYS[1])
local last = '0-0'
for _, g in ipairs(groups) do
  local info = {}
  for i = 1, #g, 2 do info[g[i]] = g[i + 1] end
  if info['name'] == ARGV[1] then last = info['last-delivered-id'] end
end
local ahead = redis.call('XRANGE', KEYS[1], '(' .. last, ARGV[2], 'COUNT', tonumber(ARGV[3]) + 1)
if #ahead == 0 then return 0 end
return #ahead - 1
