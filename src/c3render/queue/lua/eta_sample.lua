-- Keep one successful run's (size, run time) for the ETA, if this run is the job's success.
-- KEYS: job hash, ETA samples list. ARGV: run, size ('' when unknown), most samples kept
-- Returns 1 when a sample was added. The run time is the job's own start and end, both
-- written by the scripts with Redis's clock.
local h = redis.call('HMGET', KEYS[1], 'status', 'run', 'started_at', 'finished_at')
if h[1] ~= 'success' or tonumber(h[2]) ~= tonumber(ARGV[1]) then return 0 end
local started, finished = tonumber(h[3]), tonumber(h[4])
if not started or not finished or finished < started then return 0 end
redis.call('LPUSH', KEYS[2], ARGV[2] .. ' ' .. string.format('%.4f', finished - started))
redis.call('LTRIM', KEYS[2], 0, tonumber(ARGV[3]) - 1)
return 1
