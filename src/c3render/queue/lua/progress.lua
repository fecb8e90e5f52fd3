-- Record progress of a running run. KEYS: job hash. ARGV: run, progress
local h = redis.call('HMGET', KEYS[1], 'status', 'run')
if h[1] == 'running' and tonumber(h[2]) == tonumber(ARGV[1]) then
  redis.call('HSET', KEYS[1], 'progress', ARGV[2])
  return 1
end
return 0
