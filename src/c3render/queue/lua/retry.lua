-- A run failed in a way that may pass (its engine crashed under a living worker, an input
-- host was busy, the GPU ran out of memory): queue the job again after a delay, or end it
-- failed when it has failed too often or the delay would pass its deadline.
-- KEYS: job hash, queue stream, delayed zset, webhook outbox, dead-letter stream, event stream,
--       stats hash
-- ARGV: id, entry, run, now, retry at, error, error type, max failures, retention, group
-- Returns 'retry', 'failed' or 'superseded'.
local h = redis.call('HMGET', KEYS[1], 'status', 'run', 'failures', 'deadline', 'notify_url')
if h[1] ~= 'running' or tonumber(h[2]) ~= tonumber(ARGV[3]) then
  if is_final(h[1]) then drop_entry(KEYS[2], ARGV[10], ARGV[2]) end
  return 'superseded'
end
local failures = tonumber(h[3] or '0') + 1
drop_entry(KEYS[2], ARGV[10], ARGV[2])
if failures > tonumber(ARGV[8]) or tonumber(ARGV[5]) >= tonumber(h[4]) then
  local err = ARGV[6]
  if failures > 1 then err = err .. ' (failed ' .. failures .. ' times)' end
  end_job(KEYS[1], KEYS[4], KEYS[6], KEYS[7], ARGV[1], 'failed', ARGV[4], ARGV[9], h[5],
    {'error', err, 'error_type', ARGV[7], 'failures', failures})
  dead_letter(KEYS[5], ARGV[1], err, ARGV[4])
  return 'failed'
end
redis.call('HSET', KEYS[1], 'status', 'queued', 'entry', '', 'worker', '', 'started_at', '',
  'progress', '0', 'failures', failures, 'retry_at', ARGV[5], 'last_error', ARGV[6])
redis.call('ZADD', KEYS[3], ARGV[5], ARGV[1])
status_event(KEYS[1], KEYS[6], 'queued', ARGV[4],
  {retry_at = tonumber(ARGV[5]), last_error = ARGV[6], attempt = failures})
return 'retry'
