-- A worker's heartbeat for the runs it holds in one queue: reset each entry's idle time,
-- but only while the job is still this run (a worker that froze and woke up must not take
-- back an entry another worker has started since).
-- KEYS: queue stream, then one job hash per run
-- ARGV: group, worker, then entry, run pairs in the order of the job hashes
-- Returns the number of entries still held.
local held = 0
for i = 2, #KEYS do
  local entry, run = ARGV[2 * i - 1], ARGV[2 * i]
  local h = redis.call('HMGET', KEYS[i], 'status', 'run')
  if h[1] == 'running' and tonumber(h[2]) == tonumber(run) then
    redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, entry, 'JUSTID')
    held = held + 1
  end
end
return held
