-- Create a job and queue it, in one step.
-- KEYS: job hash, queue stream, index zset, idempotency key (the job hash again when none)
-- ARGV: id, now, ttl of the queued job (and idempotency key), has idempotency key ('1'/'0'),
--       type, params JSON, notify_url, deadline, max_time, owner (the API key's name, or '')
-- Returns {id, 1} for a new job, {earlier id, 0} for a repeated idempotency key.
if ARGV[4] == '1' then
  local existing = redis.call('GET', KEYS[4])
  if existing then return {existing, 0} end
end
local entry = redis.call('XADD', KEYS[2], '*', 'id', ARGV[1])
redis.call('HSET', KEYS[1], 'id', ARGV[1], 'type', ARGV[5], 'status', 'queued', 'params', ARGV[6],
  'notify_url', ARGV[7], 'created_at', ARGV[2], 'deadline', ARGV[8], 'max_time', ARGV[9],
  'attempts', 0, 'progress', 0, 'entry', entry, 'owner', ARGV[10])
redis.call('EXPIRE', KEYS[1], ARGV[3])
redis.call('ZADD', KEYS[3], ARGV[2], ARGV[1])
if ARGV[4] == '1' then redis.call('SET', KEYS[4], ARGV[1], 'EX', ARGV[3]) end
return {ARGV[1], 1}
