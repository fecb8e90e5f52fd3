-- Append a log line of a running run (an engine message) to the job's event stream.
-- KEYS: job hash, event stream. ARGV: run, time, level, message
-- Returns 1 when appended, 0 when the run is no longer the job's current one.
local h = redis.call('HMGET', KEYS[1], 'status', 'run')
if h[1] == 'running' and tonumber(h[2]) == tonumber(ARGV[1]) then
  add_event(KEYS[1], KEYS[2], 'log',
    {at = tonumber(ARGV[2]), level = ARGV[3], message = ARGV[4], run = tonumber(ARGV[1])})
  return 1
end
return 0
