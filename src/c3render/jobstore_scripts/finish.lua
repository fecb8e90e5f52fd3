-- A worker finished its run of a job: record the end state, unless the job moved on.
-- KEYS: job hash, queue stream, webhook outbox
-- ARGV: id, entry, attempt, status, result JSON, error, now, retention, group
-- Returns 1 when this run's outcome was recorded, 0 when the job was cancelled, timed out
-- or taken over by another worker meanwhile.
local h = redis.call('HMGET', KEYS[1], 'status', 'attempts', 'notify_url')
if h[1] ~= 'running' or tonumber(h[2]) ~= tonumber(ARGV[3]) then
  if h[1] and h[1] ~= 'running' and h[1] ~= 'queued' then
    redis.call('XACK', KEYS[2], ARGV[9], ARGV[2])
    redis.call('XDEL', KEYS[2], ARGV[2])
  end
  return 0
end
if ARGV[4] == 'success' then
  redis.call('HSET', KEYS[1], 'status', ARGV[4], 'finished_at', ARGV[7], 'result', ARGV[5],
    'error', ARGV[6], 'progress', '1')
else
  redis.call('HSET', KEYS[1], 'status', ARGV[4], 'finished_at', ARGV[7], 'result', ARGV[5],
    'error', ARGV[6])
end
redis.call('EXPIRE', KEYS[1], ARGV[8])
redis.call('XACK', KEYS[2], ARGV[9], ARGV[2])
redis.call('XDEL', KEYS[2], ARGV[2])
if h[3] and h[3] ~= '' then redis.call('ZADD', KEYS[3], ARGV[7], ARGV[1]) end
return 1
