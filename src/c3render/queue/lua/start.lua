-- A worker took a stream entry (taken over from a lost worker, or read for a batch): start
-- the job if it may still run (start_job in lib.lua; take.lua starts the jobs it takes).
-- KEYS: job hash, queue stream, dead-letter stream, webhook outbox, event stream, stats hash
-- ARGV: id, entry, worker, max lost workers, retention, group
-- Returns {'run', run, field, value, ...} or {verdict} when the job does not run.
return start_job({job = KEYS[1], queue = KEYS[2], dead = KEYS[3], outbox = KEYS[4],
  events = KEYS[5], stats = KEYS[6]}, ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6])
