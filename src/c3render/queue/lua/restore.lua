-- Redis lost a running job's record (it restarted without persistence): write the job
-- back as failed, so its client reads what happened instead of a 404 (and can retry it).
-- KEYS: job hash
-- ARGV: id, type, params JSON, notify_url, created_at, deadline, max_time, owner, error,
--       retention
-- Returns 1 when the record was missing and has been written.
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'id', ARGV[1], 'type', ARGV[2], 'params', ARGV[3],
  'notify_url', ARGV[4], 'created_at', ARGV[5], 'deadline', ARGV[6], 'max_time', ARGV[7],
  'owner', ARGV[8], 'status', 'failed', 'error', ARGV[9], 'error_type', 'redis_lost',
  'finished_at', NOW, 'attempts', 1, 'run', 0, 'ends', 1)
redis.call('EXPIRE', KEYS[1], ARGV[10])
return 1
