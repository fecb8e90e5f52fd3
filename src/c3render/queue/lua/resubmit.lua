-- POST /job/{id}/retry: queue a failed or timed-out job again under the same id, with a new
-- complete_in deadline of the same length, counters reset and the old outcome cleared.
-- KEYS: job hash, queue stream, event stream, ready zset, tenants zset, fair hash, waiting zset
-- ARGV: retention, tenant id of jobs from before fair share; chained jobs: the refs
--       ('type:id ...') of parents being retried too ('' for none) and when housekeeping
--       re-checks it. With refs the job waits for them (no stream entry, not ready) and the
--       caller links it again (link.lua); resolve.lua makes it ready later.
-- Returns {verdict, status}: 'ok' (queued again), 'missing', or 'refused' with its status.
local h = redis.call('HMGET', KEYS[1], 'status', 'created_at', 'deadline', 'id')
if not h[1] then return {'missing', ''} end
if h[1] ~= 'failed' and h[1] ~= 'timed_out' then return {'refused', h[1]} end
local window = tonumber(h[3]) - tonumber(h[2])
local entry = ''
if (ARGV[3] or '') == '' then
  entry = requeue_ready(KEYS[1], KEYS[2], KEYS[4], KEYS[5], KEYS[6], h[4], ARGV[2])
end
redis.call('HSET', KEYS[1], 'status', 'queued', 'entry', entry, 'deadline', NOW + window,
  'error', '', 'error_type', '', 'result', '', 'finished_at', '', 'started_at', '', 'worker', '',
  'progress', '0', 'failures', 0, 'lost', 0, 'ends', 0, 'retry_at', '', 'last_error', '',
  'webhook', '')
if (ARGV[3] or '') ~= '' then hold_for_inputs(KEYS[1], KEYS[7], h[4], ARGV[3], NOW + tonumber(ARGV[4])) end
redis.call('EXPIRE', KEYS[1], math.ceil(window + tonumber(ARGV[1])))
status_event(KEYS[1], KEYS[3], 'queued', NOW, {reason = 'retried by request'})
align_expiry(KEYS[3], window + tonumber(ARGV[1]))
return {'ok', h[1]}
