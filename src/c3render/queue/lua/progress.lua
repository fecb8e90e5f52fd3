-- Record progress of a running run, and append it to the job's event stream.
-- KEYS: job hash, event stream. ARGV: run, progress, now
local h = redis.call('HMGET', KEYS[1], 'status', 'run', 'progress')
if h[1] == 'running' and tonumber(h[2]) == tonumber(ARGV[1]) then
  redis.call('HSET', KEYS[1], 'progress', ARGV[2])
  if h[3] ~= ARGV[2] then
    add_event(KEYS[1], KEYS[2], 'progress', {progress = tonumber(ARGV[2]), at = tonumber(ARGV[3])})
  end
  return 1
end
return 0
