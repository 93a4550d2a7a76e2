--[[
  Moves a job key from one state to another, shifting the counters of every batch that
  waits on it, appending an "item" event to each, and settling each batch's life.
  Waiters whose batch expired are dropped (their counters must not come back to life).
  Needs includes/keys.lua and includes/batchLife.lua.
]]
local function moveJob(jobKey, old, new, err, nowIso, maxlen, retentionSeconds)
  local jk = jobKeyOf(jobKey)
  local wk = waitersKeyOf(jobKey)
  redis.call('HSET', jk, 'state', new, 'updatedAt', nowIso)
  if err ~= '' then redis.call('HSET', jk, 'error', err) else redis.call('HDEL', jk, 'error') end
  local event = {type = 'item', jobKey = jobKey, state = new}
  if err ~= '' then event.error = err end
  local data = cjson.encode(event)
  local waiters = redis.call('HGETALL', wk)
  for i = 1, #waiters, 2 do
    local batchId, n = waiters[i], tonumber(waiters[i + 1])
    local counts = countsKeyOf(batchId)
    if redis.call('EXISTS', counts) == 0 or n <= 0 then
      redis.call('HDEL', wk, batchId)
    else
      if old then redis.call('HINCRBY', counts, old, -n) end
      redis.call('HINCRBY', counts, new, n)
      publishTo(batchId, maxlen, data)
      settleBatch(batchId, retentionSeconds, nowIso)
    end
  end
  if new == 'pending' or new == 'running' then
    redis.call('PERSIST', jk)
    redis.call('PERSIST', wk)
  end
end
