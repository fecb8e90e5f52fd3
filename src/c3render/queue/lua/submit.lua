-- Create a job and queue it, in one step.
-- KEYS: job hash, queue stream, index zset, idempotency key (the job hash again when none),
--       event stream, stats hash, ready zset, tenants zset, fair hash (fair.lua), waiting zset
-- ARGV: id, complete_in, ttl of the queued job (and idempotency key), has idempotency key
--       ('1'/'0'), type, params JSON, notify_url, max_time, owner (the API key's name, or ''),
--       most queued jobs (0: no cap), group, tenant id, priority; chained jobs: the refs
--       ('type:id ...') it waits for ('' for none) and when housekeeping re-checks it;
--       KEYS[10]: the waiting zset (a waiting job gets no stream entry and is not ready until
--       its parents succeed: resolve.lua)
-- Returns {id, 1} for a new job, {earlier id, 0} for a repeated idempotency key, and
-- {'', 2, waiting} when the queue already holds the most jobs it may (nothing is written).
if ARGV[4] == '1' then
  local existing = redis.call('GET', KEYS[4])
  if existing then return {existing, 0} end
end
local cap = tonumber(ARGV[10])
if cap > 0 and redis.call('EXISTS', KEYS[2]) == 1 then
  local pending = redis.call('XPENDING', KEYS[2], ARGV[11])[1]
  local waiting = redis.call('XLEN', KEYS[2]) - pending
  if waiting >= cap then return {'', 2, waiting} end
end
local entry = ''
if ARGV[14] == '' then entry = redis.call('XADD', KEYS[2], '*', 'id', ARGV[1], 'fair', '1') end
redis.call('HSET', KEYS[1], 'id', ARGV[1], 'type', ARGV[5], 'status', 'queued', 'params', ARGV[6],
  'notify_url', ARGV[7], 'created_at', NOW, 'deadline', NOW + tonumber(ARGV[2]), 'max_time', ARGV[8],
  'attempts', 0, 'progress', 0, 'entry', entry, 'owner', ARGV[9], 'run', 0)
if ARGV[14] == '' then
  -- fair share: the job waits among its tenant's (fair.lua)
  make_ready(KEYS[1], KEYS[7], KEYS[8], KEYS[9], ARGV[12], ARGV[13], entry, ARGV[1])
else
  -- chained: off the stream until its inputs are ready; resolve.lua makes it ready then
  redis.call('HSET', KEYS[1], 'tenant', ARGV[12], 'priority', ARGV[13])
  hold_for_inputs(KEYS[1], KEYS[10], ARGV[1], ARGV[14], NOW + tonumber(ARGV[15]))
end
redis.call('EXPIRE', KEYS[1], ARGV[3])
redis.call('ZADD', KEYS[3], NOW, ARGV[1])
if ARGV[4] == '1' then redis.call('SET', KEYS[4], ARGV[1], 'EX', ARGV[3]) end
status_event(KEYS[1], KEYS[5], 'queued', NOW, {waiting_for = ARGV[14]})
align_expiry(KEYS[5], ARGV[3])
redis.call('HINCRBY', KEYS[6], 'submitted', 1)
return {ARGV[1], 1}
