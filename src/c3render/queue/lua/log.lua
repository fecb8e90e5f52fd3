-- Append log lines of a running run (engine messages) to the job's event stream.
-- KEYS: job hash, event stream. ARGV: run, then (time, level, message) per line
-- Returns 1 when appended, 0 when the run is no longer the job's current one.
local h = redis.call('HMGET', KEYS[1], 'status', 'run')
if h[1] == 'running' and tonumber(h[2]) == tonumber(ARGV[1]) then
  add_logs(KEYS[2], ARGV[1], 2)
  return 1
end
return 0
