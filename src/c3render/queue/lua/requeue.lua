-- A stopping worker hands a running job back to the queue (not counted as an attempt).
-- KEYS: job hash, queue stream
-- ARGV: id, entry, attempt, group
local h = redis.call('HMGET', KEYS[1], 'status', 'attempts')
if h[1] == 'running' and tonumber(h[2]) == tonumber(ARGV[3]) then
  drop_entry(KEYS[2], ARGV[4], ARGV[2])
  local entry = redis.call('XADD', KEYS[2], '*', 'id', ARGV[1])
  redis.call('HSET', KEYS[1], 'status', 'queued', 'entry', entry, 'attempts', tonumber(ARGV[3]) - 1,
    'worker', '', 'started_at', '', 'progress', '0')
  return 1
end
if is_final(h[1]) then drop_entry(KEYS[2], ARGV[4], ARGV[2]) end
return 0
