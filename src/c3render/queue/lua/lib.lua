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

-- End a job: write its end state and the extra fields {name, value, ...}, count the end
-- ('ends' must only ever reach 1: the chaos suite checks it), let the hash expire after the
-- retention period, and queue its webhook when it has a notify_url.
local function end_job(job, outbox, id, status, now, retention, notify, fields)
  redis.call('HSET', job, 'status', status, 'finished_at', now, 'retry_at', '', unpack(fields))
  redis.call('HINCRBY', job, 'ends', 1)
  redis.call('EXPIRE', job, retention)
  if notify and notify ~= '' then redis.call('ZADD', outbox, now, id) end
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
