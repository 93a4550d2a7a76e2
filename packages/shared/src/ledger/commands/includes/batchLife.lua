--[[
  A batch's life after its counters move. A batch is finished when none of its live items
  is pending or running: then all its keys, and the state of each of its job keys, expire
  after the retention period (BATCH_RETENTION_DAYS); when work is added again they persist.
  Results are not touched: they are the record of done work and stay.
  Needs includes/keys.lua.
]]
-- A batch's webhook keys besides its streams: which endpoints hear it, the notifier's
-- reading position, and its own endpoint with its delivery lists (docs/architecture.md#webhooks).
local function batchWebhookKeys(batchId, keys)
  keys[#keys + 1] = stateEventsKeyOf(batchId)
  keys[#keys + 1] = batchWebhooksKeyOf(batchId)
  keys[#keys + 1] = webhookReaderKeyOf(batchId)
  local own = redis.call('HGET', batchKeyOf(batchId), 'webhook')
  if own then
    keys[#keys + 1] = webhookKeyOf(own)
    keys[#keys + 1] = webhookKeyOf(own) .. ':delivered'
    keys[#keys + 1] = webhookKeyOf(own) .. ':dead'
  end
  return keys
end

local function settleBatch(batchId, retentionSeconds, nowIso)
  local batchKey = batchKeyOf(batchId)
  local c = redis.call('HMGET', countsKeyOf(batchId), 'pending', 'running')
  local busy = (tonumber(c[1]) or 0) + (tonumber(c[2]) or 0)
  local keys = {batchKey, itemsKeyOf(batchId), namesKeyOf(batchId), countsKeyOf(batchId),
    cancelledKeyOf(batchId), eventsKeyOf(batchId)}
  batchWebhookKeys(batchId, keys)
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

-- Appends a state event (an item's state, a cancel, a package's outcome) to the batch's
-- capped stream and, under the same id, to its state stream, which progress never trims;
-- both expire with the batch. A batch some webhook endpoint hears is marked due for the
-- notifier (docs/architecture.md#events).
local function publishTo(batchId, maxlen, data)
  local ev = eventsKeyOf(batchId)
  local id = redis.call('XADD', ev, 'MAXLEN', '~', maxlen, '*', 'data', data)
  local st = stateEventsKeyOf(batchId)
  -- The state stream's ids are a subset of the capped stream's, so they only grow; if the
  -- capped stream was ever lost alone, the entry takes a new id rather than failing.
  local added = redis.pcall('XADD', st, id, 'data', data)
  if type(added) == 'table' and added.err then redis.call('XADD', st, '*', 'data', data) end
  local ttl = redis.call('PTTL', batchKeyOf(batchId))
  if ttl > 0 then
    redis.call('PEXPIRE', ev, ttl)
    redis.call('PEXPIRE', st, ttl)
  end
  if redis.call('EXISTS', batchWebhooksKeyOf(batchId)) == 1 then
    redis.call('ZADD', WEBHOOKS_DUE, 'NX', tonumber(string.match(id, '^%d+')), batchId)
  end
  return id
end
