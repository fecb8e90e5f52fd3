-- Record progress of a running run, and append it to the job's event stream.
-- KEYS: job hash, event stream, webhook outbox. ARGV: id, run, progress
local h = redis.call('HMGET', KEYS[1], 'status', 'run', 'progress', 'notify_url')
if h[1] == 'running' and tonumber(h[2]) == tonumber(ARGV[2]) then
  redis.call('HSET', KEYS[1], 'progress', ARGV[3])
  if h[3] ~= ARGV[3] then
    add_event(KEYS[2], 'progress', {progress = tonumber(ARGV[3]), at = NOW})
    webhook_event(KEYS[1], KEYS[3], ARGV[1], 'progress', NOW, h[4])
  end
  return 1
end
return 0
