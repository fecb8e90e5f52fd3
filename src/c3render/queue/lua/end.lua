-- End a job from outside its worker: cancel / fail / time out (POST /job/{id}), or expire a
-- queued job past its complete_in deadline.
-- KEYS: job hash, queue stream, webhook outbox, delayed zset, event stream, stats hash,
--       ready zset (fair.lua: a queued job leaves its key's waiting jobs too)
-- ARGV: id, status, error, retention, group, only expire ('1': only if queued past
--       deadline), error type
-- Returns {verdict, previous status}. A queued job leaves the queue at once; a running one is
-- stopped by its worker, which sees the new status within a second.
local h = redis.call('HMGET', KEYS[1], 'status', 'entry', 'notify_url', 'deadline', 'ready')
if not h[1] then return {'missing', ''} end
if is_final(h[1]) then return {'ended', h[1]} end
if ARGV[6] == '1' and (h[1] ~= 'queued' or NOW <= tonumber(h[4])) then
  return {'kept', h[1]}
end
end_job(KEYS[1], KEYS[3], KEYS[5], KEYS[6], ARGV[1], ARGV[2], NOW, ARGV[4], h[3],
  {'error', ARGV[3], 'error_type', ARGV[7]})
if h[1] == 'queued' then
  drop_entry(KEYS[2], ARGV[5], h[2])
  redis.call('ZREM', KEYS[4], ARGV[1])
  if h[5] and h[5] ~= '' then redis.call('ZREM', KEYS[7], h[5]) end
end
return {'ok', h[1]}
