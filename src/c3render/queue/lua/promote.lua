-- A delayed retry is due: put the job back in its queue (unless it ended meanwhile).
-- KEYS: job hash, delayed zset, queue stream, ready zset, tenants zset, fair hash
-- ARGV: id, tenant id of jobs from before fair share
-- Returns the new entry id, or '' when there was nothing to do.
local due = redis.call('ZSCORE', KEYS[2], ARGV[1])
if not due or tonumber(due) > NOW then return '' end
redis.call('ZREM', KEYS[2], ARGV[1])
if redis.call('HGET', KEYS[1], 'status') ~= 'queued' then return '' end
local entry = requeue_ready(KEYS[1], KEYS[3], KEYS[4], KEYS[5], KEYS[6], ARGV[1], ARGV[2])
redis.call('HSET', KEYS[1], 'entry', entry, 'retry_at', '')
return entry
