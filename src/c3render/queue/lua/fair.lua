-- Fair share between tenants (API key names) within one job type; prepended after lib.lua.
-- Every entry of the queue stream stays one job's, from submit to its end, as before; what
-- changes is which waiting entry a worker gets. Waiting jobs are also members of the type's
-- ready zset (all scores 0, ordered by member): tenant id (16 hex) .. rank (0 high, 1 normal,
-- 2 low) .. the entry id zero-padded .. '|' .. entry .. '|' .. job id. So one ZRANGEBYLEX
-- gives a tenant's next job, highest priority first and then oldest, and take.lua hands it
-- to a worker with XCLAIM FORCE (never XREADGROUP '>'). The tenants zset holds every tenant
-- with waiting jobs, scored by the turn it was last served: the lowest goes next.

local PRIORITY_RANKS = {high = '0', normal = '1', low = '2'}

-- The ready member of a job (see above).
local function ready_member(tenant, rank, entry, id)
  local ms, seq = string.match(entry, '^(%d+)-(%d+)$')
  return tenant .. rank .. string.rep('0', 15 - #ms) .. ms .. string.rep('0', 10 - #seq) .. seq
    .. '|' .. entry .. '|' .. id
end

-- Make a queued job (its entry just added) ready: in its tenant's jobs, and its tenant in the
-- rotation; a tenant that had nothing waiting joins at the end of the current round (just
-- before the tenant served last). Writes the job's tenant, priority and member to its hash.
local function make_ready(job, ready, tenants, fair, tenant, priority, entry, id)
  local member = ready_member(tenant, PRIORITY_RANKS[priority] or '1', entry, id)
  redis.call('ZADD', ready, 0, member)
  if not redis.call('ZSCORE', tenants, tenant) then
    local turn = tonumber(redis.call('HGET', fair, 'turn') or '0')
    redis.call('ZADD', tenants, turn - 0.5, tenant)
  end
  redis.call('HSET', job, 'tenant', tenant, 'priority', priority, 'ready', member)
  return member
end

-- Queue a job again under a new entry (a due retry, a retry by request), in the tenant and
-- with the priority it was submitted with (a job from before fair share: default_tenant).
local function requeue_ready(job, queue, ready, tenants, fair, id, default_tenant)
  local entry = redis.call('XADD', queue, '*', 'id', id, 'fair', '1')
  local h = redis.call('HMGET', job, 'tenant', 'priority')
  local tenant = h[1]
  if not tenant or tenant == '' then tenant = default_tenant end
  make_ready(job, ready, tenants, fair, tenant, h[2] or 'normal', entry, id)
  return entry
end
