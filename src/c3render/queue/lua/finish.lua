-- A worker finished its run of a job: record the end state, unless the job moved on.
-- KEYS: job hash, queue stream, webhook outbox, event stream, stats hash, ETA samples list
-- ARGV: id, entry, run, status, result JSON, error, retention, group, error type, the run's
--       input size for the ETA ('' when unknown, '-' to keep no sample), most samples kept,
--       then the run's last log lines as (time, level, message) triples
-- Returns 1 when this run's outcome was recorded (2 when other jobs wait for it: the caller
-- wakes them, queue/chains.py), 0 when the job was cancelled, timed out
-- or taken over by another run meanwhile (the caller then discards the run's files). The
-- same call again (its reply was lost with the connection) answers 1 and changes nothing.
-- A recorded success also keeps its (size, run time) for the ETA (queue/eta.py): the run
-- time is the job's own start and end, both Redis's clock.
local h = redis.call('HMGET', KEYS[1], 'status', 'run', 'notify_url', 'started_at')
if h[1] ~= 'running' or tonumber(h[2]) ~= tonumber(ARGV[3]) then
  if is_final(h[1]) then drop_entry(KEYS[2], ARGV[8], ARGV[2]) end
  if h[1] == ARGV[4] and tonumber(h[2]) == tonumber(ARGV[3]) then return 1 end
  return 0
end
add_logs(KEYS[4], ARGV[3], 12)
local fields = {'result', ARGV[5], 'error', ARGV[6], 'error_type', ARGV[9]}
if ARGV[4] == 'success' then table.insert(fields, 'progress') table.insert(fields, '1') end
local woke = end_job(KEYS[1], KEYS[3], KEYS[4], KEYS[5], ARGV[1], ARGV[4], NOW, ARGV[7], h[3],
  fields)
drop_entry(KEYS[2], ARGV[8], ARGV[2])
local started = tonumber(h[4])
if ARGV[4] == 'success' and ARGV[10] ~= '-' and started and NOW >= started then
  redis.call('LPUSH', KEYS[6], ARGV[10] .. ' ' .. string.format('%.4f', NOW - started))
  redis.call('LTRIM', KEYS[6], 0, tonumber(ARGV[11]) - 1)
end
if woke then return 2 end
return 1
