-- A worker took a stream entry: start the job if it may still run.
-- KEYS: job hash, queue stream, dead-letter stream, webhook outbox
-- ARGV: id, entry, worker, now, max deliveries, retention, group
-- Returns {'run', attempt, field, value, ...} or {verdict} when the job does not run.
local function drop_entry()
  redis.call('XACK', KEYS[2], ARGV[7], ARGV[2])
  redis.call('XDEL', KEYS[2], ARGV[2])
end
local function end_job(status, err, notify)
  redis.call('HSET', KEYS[1], 'status', status, 'error', err, 'finished_at', ARGV[4])
  redis.call('EXPIRE', KEYS[1], ARGV[6])
  if notify and notify ~= '' then redis.call('ZADD', KEYS[4], ARGV[4], ARGV[1]) end
  drop_entry()
end
local h = redis.call('HMGET', KEYS[1], 'status', 'deadline', 'attempts', 'notify_url', 'entry')
if not h[1] then drop_entry() return {'gone'} end
if h[5] ~= ARGV[2] then drop_entry() return {'stale'} end
if h[1] ~= 'queued' and h[1] ~= 'running' then drop_entry() return {'ended'} end
if tonumber(ARGV[4]) > tonumber(h[2]) then
  end_job('timed_out', 'the job was not started before its complete_in deadline', h[4])
  return {'expired'}
end
local attempts = tonumber(h[3] or '0')
if attempts >= tonumber(ARGV[5]) then
  local err = 'the worker running this job died ' .. attempts .. ' times; giving up'
  end_job('failed', err, h[4])
  redis.call('XADD', KEYS[3], 'MAXLEN', '~', 10000, '*', 'id', ARGV[1], 'error', err, 'at', ARGV[4])
  return {'dead'}
end
attempts = attempts + 1
redis.call('HSET', KEYS[1], 'status', 'running', 'started_at', ARGV[4], 'worker', ARGV[3],
  'attempts', attempts, 'progress', '0')
local reply = redis.call('HGETALL', KEYS[1])
table.insert(reply, 1, attempts)
table.insert(reply, 1, 'run')
return reply
