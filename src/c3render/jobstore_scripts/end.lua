-- End a job from outside its worker: cancel / fail / time out (POST /job/{id}), or expire a
-- queued job past its complete_in deadline.
-- KEYS: job hash, queue stream, webhook outbox
-- ARGV: id, status, error, now, retention, group, only expire ('1': only if queued past deadline)
-- Returns {verdict, previous status}. A queued job leaves the queue at once; a running one is
-- stopped by its worker, which sees the new status within a second.
local h = redis.call('HMGET', KEYS[1], 'status', 'entry', 'notify_url', 'deadline')
if not h[1] then return {'missing', ''} end
if h[1] ~= 'queued' and h[1] ~= 'running' then return {'ended', h[1]} end
if ARGV[7] == '1' and (h[1] ~= 'queued' or tonumber(ARGV[4]) <= tonumber(h[4])) then
  return {'kept', h[1]}
end
redis.call('HSET', KEYS[1], 'status', ARGV[2], 'error', ARGV[3], 'finished_at', ARGV[4])
redis.call('EXPIRE', KEYS[1], ARGV[5])
if h[1] == 'queued' and h[2] then
  redis.call('XACK', KEYS[2], ARGV[6], h[2])
  redis.call('XDEL', KEYS[2], h[2])
end
if h[3] and h[3] ~= '' then redis.call('ZADD', KEYS[3], ARGV[4], ARGV[1]) end
return {'ok', h[1]}
