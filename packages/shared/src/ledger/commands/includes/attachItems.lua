--[[
  Appends items to a batch and makes the batch wait on each item's job key.
  A job key with a recorded result is succeeded at once; one never seen (or whose
  state was dropped by a cancel), or one that failed before, becomes pending and must be
  queued: it goes into the outbox as "<batchId>:<index>" until its queue job is written.
  Needs includes/keys.lua, includes/batchLife.lua, includes/moveJob.lua.

  items: flat ARGV from `first`: jobKey, name, itemJson per item.
  Returns: {'taken', name...} when a name is used already (nothing written), else
  {'ok', firstIndex, state1, enqueue1, state2, enqueue2, ...}.
]]
local function attachItems(batchId, first, nowIso, nowMs, maxlen, retentionSeconds)
  local names = namesKeyOf(batchId)
  local taken = {}
  for i = first, #ARGV, 3 do
    if redis.call('SISMEMBER', names, ARGV[i + 1]) == 1 then taken[#taken + 1] = ARGV[i + 1] end
  end
  if #taken > 0 then
    table.insert(taken, 1, 'taken')
    return taken
  end
  local counts = countsKeyOf(batchId)
  local index = redis.call('LLEN', itemsKeyOf(batchId))
  local reply = {'ok', index}
  for i = first, #ARGV, 3 do
    local jobKey = ARGV[i]
    redis.call('RPUSH', itemsKeyOf(batchId), ARGV[i + 2])
    redis.call('SADD', names, ARGV[i + 1])
    local jk = jobKeyOf(jobKey)
    local old = redis.call('HGET', jk, 'state')
    local target = old
    local enqueue = 0
    if redis.call('EXISTS', resultKeyOf(jobKey)) == 1 then
      target = 'succeeded'
    elseif (not old) or old == 'failed' then
      target = 'pending'
      enqueue = 1
    end
    if old ~= target then moveJob(jobKey, old, target, '', nowIso, maxlen, retentionSeconds) end
    redis.call('HINCRBY', waitersKeyOf(jobKey), batchId, 1)
    redis.call('HINCRBY', counts, target, 1)
    if target == 'pending' or target == 'running' then
      redis.call('PERSIST', jk)
      redis.call('PERSIST', waitersKeyOf(jobKey))
    end
    if enqueue == 1 then redis.call('ZADD', OUTBOX, nowMs, batchId .. ':' .. index) end
    reply[#reply + 1] = target
    reply[#reply + 1] = enqueue
    index = index + 1
  end
  settleBatch(batchId, retentionSeconds, nowIso)
  return reply
end
