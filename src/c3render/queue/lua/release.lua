-- A worker lets go of a run whose job was ended from outside (cancelled, timed out, failed).
-- Nothing is written: the job no longer runs this attempt. The entry is acknowledged only
-- when the job has ended, never while another worker's run holds it.
-- KEYS: job hash, queue stream
-- ARGV: entry, group
-- Returns 1 when the entry was dropped.
if is_final(redis.call('HGET', KEYS[1], 'status')) then
  drop_entry(KEYS[2], ARGV[2], ARGV[1])
  return 1
end
return 0
