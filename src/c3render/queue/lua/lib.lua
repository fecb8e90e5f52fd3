-- The shared library: prepended to every script of this folder before it is registered, so
-- what the scripts have in common is written once. Each script is still one self-contained
-- EVAL whose keys share one hash tag, so it runs unchanged on a single Redis, Valkey or a
-- Redis Cluster node.

-- Take an entry out of a queue stream for good (it is acknowledged and deleted).
local function drop_entry(queue, group, entry)
  if entry and entry ~= '' then
    redis.call('XACK', queue, group, entry)
    redis.call('XDEL', queue, entry)
  end
end

-- Append an event {kind, data JSON} to a job's event stream (GET /events), capped at about
-- EVENTS_MAXLEN entries. Only the scripts that change the job append, inside the same
-- script, so an event never disagrees with the job.
local EVENTS_MAXLEN = 5000
local function add_event(events, kind, data)
  redis.call('XADD', events, 'MAXLEN', '~', EVENTS_MAXLEN, '*', 'kind', kind,
    'data', cjson.encode(data))
end

-- Let the event stream expire with the job hash: the scripts that set the job's expiry
-- (submit, end_job, resubmit) give the stream the same; other events leave both as they are.
local function align_expiry(events, seconds)
  redis.call('EXPIRE', events, math.ceil(tonumber(seconds)))
end

-- Append log events from ARGV triples (time, level, message) starting at index first.
local function add_logs(events, run, first)
  for i = first, #ARGV - 2, 3 do
    add_event(events, 'log', {at = tonumber(ARGV[i]), level = ARGV[i + 1],
      message = ARGV[i + 2], run = tonumber(run)})
  end
end

-- The event of a status change: {status, at, plus the fields of extra}.
local function status_event(job, events, status, now, extra)
  local data = {status = status, at = tonumber(now)}
  for name, value in pairs(extra or {}) do
    if value ~= nil and value ~= '' then data[name] = value end
  end
  add_event(events, 'status', data)
end

-- Count a duration in a histogram of the stats hash: one bucket field '<name>:le:<bound>'
-- (the first bound it fits; summed up cumulatively, and to the count, when scraped) and
-- '<name>:sum'.
local BUCKETS = {0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200}
local function observe(stats, name, seconds)
  local bucket = '+Inf'
  for _, bound in ipairs(BUCKETS) do
    if seconds <= bound then bucket = tostring(bound) break end
  end
  redis.call('HINCRBY', stats, name .. ':le:' .. bucket, 1)
  redis.call('HINCRBYFLOAT', stats, name .. ':sum', seconds)
end

-- Does the job want webhooks for event ('start', 'progress', 'completed')? Its params'
-- webhook_events says; a job without one (submitted before it existed) wants 'completed'.
local function wants_webhook(job, event)
  local ok, params = pcall(cjson.decode, redis.call('HGET', job, 'params') or '{}')
  local events = ok and type(params) == 'table' and params['webhook_events']
  if type(events) ~= 'table' then return event == 'completed' end
  for _, name in ipairs(events) do
    if name == event then return true end
  end
  return false
end

-- Queue a webhook for a start or progress event when the job asked for it: the outbox
-- member is '<id>|<event>'. Progress at most once a second. notify: the job's notify_url.
local function webhook_event(job, outbox, id, event, now, notify)
  if not notify or notify == '' or not wants_webhook(job, event) then return end
  if event == 'progress' then
    local last = redis.call('HGET', job, 'webhook_progress_at')
    if tonumber(now) < tonumber(last or '0') + 1 then return end
    redis.call('HSET', job, 'webhook_progress_at', now)
  end
  redis.call('ZADD', outbox, now, id .. '|' .. event)
end

-- === Chained jobs (job:<id> inputs) =========================================================
-- A job that waits for others keeps their refs ('type:id', space-separated) in its field
-- 'waiting_for' and has no stream entry meanwhile; each parent lists its dependants the same
-- way in its own hash ('dependants', written by link.lua). A chain's keys sit in two hash
-- slots (the parent's type and the child's), so no script touches both: when a parent with
-- dependants ends, end_job records it in its type's wake-up set (same slot as the parent)
-- and Python moves the dependants (resolve.lua, queue/chains.py): the process that ended
-- the parent does it at once, housekeeping re-checks the set if that process died.

-- True when the space-separated list holds word.
local function has_word(list, word)
  for each in string.gmatch(list or '', '%S+') do
    if each == word then return true end
  end
  return false
end

-- The space-separated list without word.
local function without_word(list, word)
  local kept = {}
  for each in string.gmatch(list or '', '%S+') do
    if each ~= word then table.insert(kept, each) end
  end
  return table.concat(kept, ' ')
end

-- The wake-up set of a job's type, from its hash's name (keys.wakeups: 'c3:{type}:wakeups').
local function wakeups_of(job)
  return (string.gsub(job, ':job:[^:]*$', ':wakeups'))
end

-- A job ends: when others wait for it, record that they must be woken. True when so.
local function record_wakeup(job, id, now)
  local dependants = redis.call('HGET', job, 'dependants')
  if dependants and dependants ~= '' then
    redis.call('ZADD', wakeups_of(job), now, id)
    return true
  end
  return false
end

-- A new job waits for the jobs in refs: it joins its type's waiting set, re-checked by
-- housekeeping at recheck_at (the safety net, should its parents never be linked).
local function hold_for_inputs(job, waiting, id, refs, recheck_at)
  redis.call('HSET', job, 'waiting_for', refs)
  redis.call('ZADD', waiting, recheck_at, id)
end
-- === end of chained jobs =====================================================================

-- End a job: write its end state and the extra fields {name, value, ...}, count the end
-- ('ends' must only ever reach 1: the chaos suite checks it), let the hash expire after the
-- retention period, queue its webhook when it has a notify_url, and append the status event.
local function end_job(job, outbox, events, stats, id, status, now, retention, notify, fields)
  local started = redis.call('HMGET', job, 'status', 'started_at')
  if started[1] == 'running' and tonumber(started[2]) then
    observe(stats, 'run', math.max(0, tonumber(now) - tonumber(started[2])))
  end
  redis.call('HINCRBY', stats, 'ended:' .. status, 1)
  redis.call('HSET', job, 'status', status, 'finished_at', now, 'retry_at', '', unpack(fields))
  redis.call('HINCRBY', job, 'ends', 1)
  redis.call('EXPIRE', job, retention)
  if notify and notify ~= '' and wants_webhook(job, 'completed') then
    redis.call('ZADD', outbox, now, id)
  end
  local extra = {}
  for i = 1, #fields, 2 do
    if fields[i] == 'error' or fields[i] == 'error_type' then extra[fields[i]] = fields[i + 1] end
  end
  status_event(job, events, status, now, extra)
  align_expiry(events, retention)
  return record_wakeup(job, id, now)  -- chained jobs
end

-- True when a status is an end state (the job hash exists and the job is over).
local function is_final(status)
  return status and status ~= 'queued' and status ~= 'running'
end

-- The server's clock, read once per script: every time a script stores or compares comes
-- from Redis, so a skewed API or worker host cannot shift deadlines. (Redis 7 replicates a
-- script's effects, so reading TIME in a script that writes is allowed.)
local function server_now()
  local t = redis.call('TIME')
  return tonumber(t[1]) + tonumber(t[2]) / 1000000
end
local NOW = server_now()

-- Record a job that gave up in the dead-letter stream, for operators.
local function dead_letter(dead, id, err, now)
  redis.call('XADD', dead, 'MAXLEN', '~', 10000, '*', 'id', id, 'error', err, 'at', now)
end

-- A worker took a stream entry: start the job if it may still run (start.lua, and take.lua
-- when it starts what it takes). k: job hash, queue stream, dead-letter stream, webhook
-- outbox, event stream, stats hash; id, entry, worker, max lost workers, retention, group.
-- Returns {'run', run, field, value, ...} or {verdict} when the job does not run. 'run' is
-- the new run number: it fences every later write of this run (finish, progress,
-- heartbeats). A job found 'running' was held by a worker that was lost: that counts towards
-- the limit; an engine crash seen by a living worker is counted by retry.lua instead.
local function start_job(k, id, entry, worker, max_lost, retention, group)
  local h = redis.call('HMGET', k.job, 'status', 'deadline', 'attempts', 'notify_url', 'entry',
    'lost', 'run', 'created_at')
  local function refuse(verdict)
    drop_entry(k.queue, group, entry)
    return {verdict}
  end
  if not h[1] then return refuse('gone') end
  if h[5] ~= entry then return refuse('stale') end
  if is_final(h[1]) then return refuse('ended') end
  if NOW > tonumber(h[2]) then
    local err = 'the job was not started before its complete_in deadline'
    end_job(k.job, k.outbox, k.events, k.stats, id, 'timed_out', NOW, retention, h[4],
      {'error', err, 'error_type', 'timeout'})
    return refuse('expired')
  end
  local lost = tonumber(h[6] or '0')
  if h[1] == 'running' then lost = lost + 1 end
  if lost >= tonumber(max_lost) then
    local err = 'the worker running this job died ' .. lost .. ' times; giving up'
    end_job(k.job, k.outbox, k.events, k.stats, id, 'failed', NOW, retention, h[4],
      {'error', err, 'error_type', 'worker_lost', 'lost', lost})
    dead_letter(k.dead, id, err, NOW)
    return refuse('dead')
  end
  local run = tonumber(h[7] or '0') + 1
  local attempt = tonumber(h[3] or '0') + 1
  if attempt == 1 then  -- the first start: how long it waited since submission
    local created = tonumber(h[8])
    if created then observe(k.stats, 'wait', math.max(0, NOW - created)) end
  end
  redis.call('HSET', k.job, 'status', 'running', 'started_at', NOW, 'worker', worker,
    'attempts', attempt, 'run', run, 'lost', lost, 'progress', '0')
  webhook_event(k.job, k.outbox, id, 'start', NOW, h[4])
  status_event(k.job, k.events, 'running', NOW, {worker = worker, attempt = attempt})
  local reply = redis.call('HGETALL', k.job)
  table.insert(reply, 1, run)
  table.insert(reply, 1, 'run')
  return reply
end
