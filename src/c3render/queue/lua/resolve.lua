-- Chained jobs: a parent of a waiting job ended. When it succeeded, the job records where
-- the parent's output is (its 'sources') and, once it waits for nothing more, joins its
-- stream; otherwise it ends failed, naming the parent. Runs in the waiting job's hash slot;
-- idempotent (a parent already taken off 'waiting_for' changes nothing), so housekeeping
-- may repeat what a dying process began.
-- KEYS: job hash, queue stream, waiting zset, webhook outbox, event stream, stats hash,
--       ready zset, tenants zset, fair hash (fair.lua)
-- ARGV: id, parent ref ('type:id'), 'ready' or 'failed', sources JSON ({field: storage key}),
--       error, retention, tenant id of jobs from before fair share
-- Returns 'queued', 'waiting' (for other parents), 'failed', 'done' (nothing to do) or
-- 'ended' (the job is no longer queued).
local h = redis.call('HMGET', KEYS[1], 'status', 'waiting_for', 'sources', 'notify_url')
if h[1] ~= 'queued' then
  redis.call('ZREM', KEYS[3], ARGV[1])
  return 'ended'
end
if not has_word(h[2], ARGV[2]) then return 'done' end
local rest = without_word(h[2], ARGV[2])
if ARGV[3] ~= 'ready' then
  redis.call('ZREM', KEYS[3], ARGV[1])
  end_job(KEYS[1], KEYS[4], KEYS[5], KEYS[6], ARGV[1], 'failed', NOW, ARGV[6], h[4],
    {'error', ARGV[5], 'error_type', 'input', 'waiting_for', rest})
  return 'failed'
end
local sources = cjson.decode(h[3] or '{}')
for field, key in pairs(cjson.decode(ARGV[4])) do sources[field] = key end
redis.call('HSET', KEYS[1], 'waiting_for', rest, 'sources', cjson.encode(sources))
if rest ~= '' then return 'waiting' end
redis.call('ZREM', KEYS[3], ARGV[1])
-- fair share: ready among its tenant's, with the tenant and priority it was submitted with
local entry = requeue_ready(KEYS[1], KEYS[2], KEYS[7], KEYS[8], KEYS[9], ARGV[1], ARGV[7])
redis.call('HSET', KEYS[1], 'entry', entry)
status_event(KEYS[1], KEYS[5], 'queued', NOW, {reason = 'its inputs are ready'})
return 'queued'
