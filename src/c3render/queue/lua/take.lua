-- A worker takes waiting jobs of one type, fairly: the tenant served longest ago gives its
-- next job (highest priority, then oldest), which becomes pending for the worker (XCLAIM
-- FORCE: the entry is delivered out of stream order, and only here). Members whose entry is
-- gone (a cancelled job) or already held are dropped on the way.
-- KEYS: ready zset, tenants zset, fair hash, queue stream; to start what it takes, also the
--       dead-letter stream, webhook outbox and stats hash
-- ARGV: group, worker, most jobs to take; to start what it takes (start_job in lib.lua, one
--       round trip instead of two), also max lost workers and retention
-- Returns {entry, id, ...} of the jobs taken; {} and the queue's last entry id (to wait for
-- newer ones with XREAD) when none waits: {'', last id}. Starting, it returns
-- {{entry, id, start reply...}, ...}: one per job taken, started ('run', ...) or refused
-- ({verdict}: a refused job does not count towards the most to take).
local starting = ARGV[4] ~= nil
-- the job's hash and event stream, named as keys.job / keys.events name them (keep in step)
local tag = string.sub(KEYS[4], 1, -string.len(':queue') - 1)

local function takeable(entry, id)
  local found = redis.call('XRANGE', KEYS[4], entry, entry)[1]
  if not found then return false end
  local fields, owner = found[2], nil
  for i = 1, #fields, 2 do
    if fields[i] == 'id' then owner = fields[i + 1] end
  end
  return owner == id and #redis.call('XPENDING', KEYS[4], ARGV[1], entry, entry, 1) == 0
end

local function start(entry, id)
  local k = {job = tag .. ':job:' .. id, queue = KEYS[4], dead = KEYS[5], outbox = KEYS[6],
    events = tag .. ':events:' .. id, stats = KEYS[7]}
  local reply = start_job(k, id, entry, ARGV[2], ARGV[4], ARGV[5], ARGV[1])
  table.insert(reply, 1, id)
  table.insert(reply, 1, entry)
  return reply
end

local want, taken, started, tries = tonumber(ARGV[3]), {}, 0, 0
while started < want and tries < want + 100 do
  tries = tries + 1
  local tenant = redis.call('ZRANGE', KEYS[2], 0, 0)[1]
  if not tenant then break end
  local found = redis.call('ZRANGEBYLEX', KEYS[1], '[' .. tenant, '[' .. tenant .. '\255',
    'LIMIT', 0, 2)
  if #found > 0 then redis.call('ZREM', KEYS[1], found[1]) end
  if #found < 2 then redis.call('ZREM', KEYS[2], tenant) end
  if #found > 0 then
    local entry, id = string.match(found[1], '|([^|]+)|(.+)$')
    if takeable(entry, id) then
      redis.call('XCLAIM', KEYS[4], ARGV[1], ARGV[2], 0, entry, 'FORCE', 'JUSTID')
      local turn = redis.call('HINCRBY', KEYS[3], 'turn', 1)
      if #found > 1 then redis.call('ZADD', KEYS[2], 'XX', turn, tenant) end
      if starting then
        local reply = start(entry, id)
        table.insert(taken, reply)
        if reply[3] == 'run' then started = started + 1 end
      else
        table.insert(taken, entry)
        table.insert(taken, id)
        started = started + 1
      end
    end
  end
end
if #taken > 0 then return taken end
local last = redis.call('XREVRANGE', KEYS[4], '+', '-', 'COUNT', 1)[1]
return {'', last and last[1] or '0-0'}
