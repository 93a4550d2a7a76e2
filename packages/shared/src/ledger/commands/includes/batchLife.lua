--[[
  A batch's life after its counters move. A batch is finished when none of its live items
  is pending or running: then all its keys, and the state of each of its job keys, expire
  after the retention period (BATCH_RETENTION_DAYS); when work is added again they persist.
  Results are not touched: they are the record of done work and stay.
  Needs includes/keys.lua.
]]
local function settleBatch(batchId, retentionSeconds, nowIso)
  local batchKey = batchKeyOf(batchId)
  local c = redis.call('HMGET', countsKeyOf(batchId), 'pending', 'running')
  local busy = (tonumber(c[1]) or 0) + (tonumber(c[2]) or 0)
  local keys = {batchKey, itemsKeyOf(batchId), namesKeyOf(batchId), countsKeyOf(batchId),
    cancelledKeyOf(batchId), eventsKeyOf(batchId)}
  if busy == 0 then
    if redis.call('HSETNX', batchKey, 'finishedAt', nowIso) == 1 or redis.call('TTL', batchKey) < 0 then
      for _, k in ipairs(keys) do redis.call('EXPIRE', k, retentionSeconds) end
      -- Terminal job states live as long as the last finished batch that shows them.
      for _, item in ipairs(redis.call('LRANGE', itemsKeyOf(batchId), 0, -1)) do
        local jobKey = string.match(item, '"jobKey":"(%x+)"')
        local state = jobKey and redis.call('HGET', jobKeyOf(jobKey), 'state')
        if state == 'succeeded' or state == 'failed' then
          redis.call('EXPIRE', jobKeyOf(jobKey), retentionSeconds)
          redis.call('EXPIRE', waitersKeyOf(jobKey), retentionSeconds)
        end
      end
    end
  elseif redis.call('HDEL', batchKey, 'finishedAt') == 1 then
    for _, k in ipairs(keys) do redis.call('PERSIST', k) end
  end
end

-- Appends an event to a batch's capped stream; the stream expires with its batch.
local function publishTo(batchId, maxlen, data)
  local ev = eventsKeyOf(batchId)
  redis.call('XADD', ev, 'MAXLEN', '~', maxlen, '*', 'data', data)
  local ttl = redis.call('PTTL', batchKeyOf(batchId))
  if ttl > 0 then redis.call('PEXPIRE', ev, ttl) end
end
