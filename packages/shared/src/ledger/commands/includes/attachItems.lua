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
-- Runs fn(chunk) over values in chunks (unpack has a stack limit).
local function inChunks(values, fn)
  for i = 1, #values, 1000 do fn(unpack(values, i, math.min(i + 999, #values))) end
end

local function attachItems(batchId, first, nowIso, nowMs, maxlen, retentionSeconds)
  local names = namesKeyOf(batchId)
  local newNames, newItems = {}, {}
  for i = first, #ARGV, 3 do
    newNames[#newNames + 1] = ARGV[i + 1]
    newItems[#newItems + 1] = ARGV[i + 2]
  end
  if redis.call('SCARD', names) > 0 then
    local taken = {'taken'}
    for c = 1, #newNames, 1000 do
      local chunk = {unpack(newNames, c, math.min(c + 999, #newNames))}
      local found = redis.call('SMISMEMBER', names, unpack(chunk))
      for j, f in ipairs(found) do if f == 1 then taken[#taken + 1] = chunk[j] end end
    end
    if #taken > 1 then return taken end
  end
  local index = redis.call('LLEN', itemsKeyOf(batchId))
  inChunks(newItems, function(...) redis.call('RPUSH', itemsKeyOf(batchId), ...) end)
  inChunks(newNames, function(...) redis.call('SADD', names, ...) end)
  local reply = {'ok', index}
  local added = {}
  local outbox = {}
  for i = first, #ARGV, 3 do
    local jobKey = ARGV[i]
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
    added[target] = (added[target] or 0) + 1
    if target == 'pending' or target == 'running' then
      redis.call('PERSIST', jk)
      redis.call('PERSIST', waitersKeyOf(jobKey))
      -- A cancelled long item attached again keeps its recorded segments (cancelBatch).
      redis.call('PERSIST', segmentsKeyOf(jobKey))
    end
    if enqueue == 1 then
      outbox[#outbox + 1] = nowMs
      outbox[#outbox + 1] = batchId .. ':' .. index
    end
    reply[#reply + 1] = target
    reply[#reply + 1] = enqueue
    index = index + 1
  end
  for state, n in pairs(added) do redis.call('HINCRBY', countsKeyOf(batchId), state, n) end
  inChunks(outbox, function(...) redis.call('ZADD', OUTBOX, ...) end)
  settleBatch(batchId, retentionSeconds, nowIso)
  return reply
end
