-- A run failed in a way that may pass (its engine crashed under a living worker, an input
-- host was busy, the GPU ran out of memory): queue the job again after a delay, or end it
-- failed when it has failed too often or the delay would pass its deadline.
-- KEYS: job hash, queue stream, delayed zset, webhook outbox, dead-letter stream, event stream,
--       stats hash
-- ARGV: id, entry, run, delay in seconds, error, error type, max failures, retention, group
-- Returns 'retry', 'failed' or 'superseded'.
local h = redis.call('HMGET', KEYS[1], 'status', 'run', 'failures', 'deadline', 'notify_url')
if h[1] ~= 'running' or tonumber(h[2]) ~= tonumber(ARGV[3]) then
  if is_final(h[1]) then drop_entry(KEYS[2], ARGV[9], ARGV[2]) end
  return 'superseded'
end
local failures = tonumber(h[3] or '0') + 1
local retry_at = NOW + tonumber(ARGV[4])
drop_entry(KEYS[2], ARGV[9], ARGV[2])
if failures > tonumber(ARGV[7]) or retry_at >= tonumber(h[4]) then
  local err = ARGV[5]
  if failures > 1 then err = err .. ' (failed ' .. failures .. ' times)' end
  end_job(KEYS[1], KEYS[4], KEYS[6], KEYS[7], ARGV[1], 'failed', NOW, ARGV[8], h[5],
    {'error', err, 'error_type', ARGV[6], 'failures', failures})
  dead_letter(KEYS[5], ARGV[1], err, NOW)
  return 'failed'
end
redis.call('HSET', KEYS[1], 'status', 'queued', 'entry', '', 'worker', '', 'started_at', '',
  'progress', '0', 'failures', failures, 'retry_at', retry_at, 'last_error', ARGV[5])
redis.call('ZADD', KEYS[3], retry_at, ARGV[1])
status_event(KEYS[1], KEYS[6], 'queued', NOW,
  {retry_at = retry_at, last_error = ARGV[5], attempt = failures})
return 'retry'
