-- A worker finished its run of a job: record the end state, unless the job moved on.
-- KEYS: job hash, queue stream, webhook outbox, event stream, stats hash
-- ARGV: id, entry, run, status, result JSON, error, retention, group, error type,
--       then the run's last log lines as (time, level, message) triples
-- Returns 1 when this run's outcome was recorded (2 when other jobs wait for it: the caller
-- wakes them, queue/chains.py), 0 when the job was cancelled, timed out
-- or taken over by another run meanwhile (the caller then discards the run's files).
local h = redis.call('HMGET', KEYS[1], 'status', 'run', 'notify_url')
if h[1] ~= 'running' or tonumber(h[2]) ~= tonumber(ARGV[3]) then
  if is_final(h[1]) then drop_entry(KEYS[2], ARGV[8], ARGV[2]) end
  return 0
end
add_logs(KEYS[4], ARGV[3], 10)
local fields = {'result', ARGV[5], 'error', ARGV[6], 'error_type', ARGV[9]}
if ARGV[4] == 'success' then table.insert(fields, 'progress') table.insert(fields, '1') end
local woke = end_job(KEYS[1], KEYS[3], KEYS[4], KEYS[5], ARGV[1], ARGV[4], NOW, ARGV[7], h[3],
  fields)
drop_entry(KEYS[2], ARGV[8], ARGV[2])
if woke then return 2 end
return 1
