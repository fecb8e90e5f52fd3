-- Create a job and queue it, in one step.
-- KEYS: job hash, queue stream, index zset, idempotency key
-- ARGV: id, now, ttl of the idempotency key and the queued job, has idempotency ('1'/'0'), field, value, ...
if ARGV[4] == '1' then
  local existing = redis.call('GET', KEYS[4])
  if existing then return {existing, 0} end
end
local fields = {}
for i = 5, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('HSET', KEYS[1], unpack(fields))
local entry = redis.call('XADD', KEYS[2], '*', 'id', ARGV[1])
redis.call('HSET', KEYS[1], 'entry', entry)
redis.call('EXPIRE', KEYS[1], ARGV[3])
redis.call('ZADD', KEYS[3], ARGV[2], ARGV[1])
if ARGV[4] == '1' then redis.call('SET', KEYS[4], ARGV[1], 'EX', ARGV[3]) end
return {ARGV[1], 1}
