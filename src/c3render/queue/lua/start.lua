-- A worker took a stream entry: start the job if it may still run.
-- KEYS: job hash, queue stream, dead-letter stream, webhook outbox, event stream, stats hash
-- ARGV: id, entry, worker, max lost workers, retention, group
-- Returns {'run', run, field, value, ...} or {verdict} when the job does not run. 'run' is the
-- new run number: it fences every later write of this run (finish, progress, heartbeats).
-- A job found 'running' was held by a worker that was lost: that counts towards the limit;
-- an engine crash seen by a living worker is counted by retry.lua instead.
local h = redis.call('HMGET', KEYS[1], 'status', 'deadline', 'attempts', 'notify_url', 'entry',
  'lost', 'run', 'created_at')
local function refuse(verdict)
  drop_entry(KEYS[2], ARGV[6], ARGV[2])
  return {verdict}
end
if not h[1] then return refuse('gone') end
if h[5] ~= ARGV[2] then return refuse('stale') end
if is_final(h[1]) then return refuse('ended') end
if NOW > tonumber(h[2]) then
  local err = 'the job was not started before its complete_in deadline'
  end_job(KEYS[1], KEYS[4], KEYS[5], KEYS[6], ARGV[1], 'timed_out', NOW, ARGV[5], h[4],
    {'error', err, 'error_type', 'timeout'})
  return refuse('expired')
end
local lost = tonumber(h[6] or '0')
if h[1] == 'running' then lost = lost + 1 end
if lost >= tonumber(ARGV[4]) then
  local err = 'the worker running this job died ' .. lost .. ' times; giving up'
  end_job(KEYS[1], KEYS[4], KEYS[5], KEYS[6], ARGV[1], 'failed', NOW, ARGV[5], h[4],
    {'error', err, 'error_type', 'worker_lost', 'lost', lost})
  dead_letter(KEYS[3], ARGV[1], err, NOW)
  return refuse('dead')
end
local run = tonumber(h[7] or '0') + 1
if tonumber(h[3] or '0') == 0 then  -- the first start: how long it waited since submission
  local created = tonumber(h[8])
  if created then observe(KEYS[6], 'wait', math.max(0, NOW - created)) end
end
redis.call('HSET', KEYS[1], 'status', 'running', 'started_at', NOW, 'worker', ARGV[3],
  'attempts', tonumber(h[3] or '0') + 1, 'run', run, 'lost', lost, 'progress', '0')
webhook_event(KEYS[1], KEYS[4], ARGV[1], 'start', NOW, h[4])
status_event(KEYS[1], KEYS[5], 'running', NOW,
  {worker = ARGV[3], attempt = tonumber(h[3] or '0') + 1})
local reply = redis.call('HGETALL', KEYS[1])
table.insert(reply, 1, run)
table.insert(reply, 1, 'run')
return reply
