-- A worker took a stream entry: start the job if it may still run.
-- KEYS: job hash, queue stream, dead-letter stream, webhook outbox
-- ARGV: id, entry, worker, now, max deliveries, retention, group
-- Returns {'run', attempt, field, value, ...} or {verdict} when the job does not run.
local h = redis.call('HMGET', KEYS[1], 'status', 'deadline', 'attempts', 'notify_url', 'entry')
local function refuse(verdict)
  drop_entry(KEYS[2], ARGV[7], ARGV[2])
  return {verdict}
end
if not h[1] then return refuse('gone') end
if h[5] ~= ARGV[2] then return refuse('stale') end
if is_final(h[1]) then return refuse('ended') end
if tonumber(ARGV[4]) > tonumber(h[2]) then
  local err = 'the job was not started before its complete_in deadline'
  end_job(KEYS[1], KEYS[4], ARGV[1], 'timed_out', ARGV[4], ARGV[6], h[4], {'error', err})
  return refuse('expired')
end
local attempts = tonumber(h[3] or '0')
if attempts >= tonumber(ARGV[5]) then
  local err = 'the worker running this job died ' .. attempts .. ' times; giving up'
  end_job(KEYS[1], KEYS[4], ARGV[1], 'failed', ARGV[4], ARGV[6], h[4], {'error', err})
  redis.call('XADD', KEYS[3], 'MAXLEN', '~', 10000, '*', 'id', ARGV[1], 'error', err, 'at', ARGV[4])
  return refuse('dead')
end
attempts = attempts + 1
redis.call('HSET', KEYS[1], 'status', 'running', 'started_at', ARGV[4], 'worker', ARGV[3],
  'attempts', attempts, 'progress', '0')
local reply = redis.call('HGETALL', KEYS[1])
table.insert(reply, 1, attempts)
table.insert(reply, 1, 'run')
return reply
