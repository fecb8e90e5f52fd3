-- A stopping worker hands a running job back (not counted as an attempt). The entry keeps
-- its place: it stays pending, given to the consumer 'handed-back' (never alive) with a long
-- idle time, so the next worker's take-over pass starts it before any newer entry.
-- KEYS: job hash, queue stream, event stream
-- ARGV: id, entry, run, group, hand-back consumer, its idle time (ms)
local h = redis.call('HMGET', KEYS[1], 'status', 'run', 'attempts')
if h[1] == 'running' and tonumber(h[2]) == tonumber(ARGV[3]) then
  redis.call('HSET', KEYS[1], 'status', 'queued', 'attempts', tonumber(h[3]) - 1,
    'worker', '', 'started_at', '', 'progress', '0')
  redis.call('XCLAIM', KEYS[2], ARGV[4], ARGV[5], 0, ARGV[2], 'IDLE', ARGV[6], 'JUSTID')
  status_event(KEYS[1], KEYS[3], 'queued', NOW, {reason = 'handed back by a stopping worker'})
  return 1
end
if is_final(h[1]) then drop_entry(KEYS[2], ARGV[4], ARGV[2]) end
return 0
