--[[
  Cancels a batch's pending items, and its long items that wait for their segments (running,
  marked 'segmented' when they queued them). Atomic with a worker's start (startJob): any
  other item whose job a worker started is running and is left alone to finish.

  KEYS[1] batch hash
  ARGV[1] ledger root
  ARGV[2] batch id
  ARGV[3] now, ISO 8601
  ARGV[4] event stream MAXLEN
  ARGV[5] batch retention, seconds

  The cancelled items leave the batch's counters and are listed in its cancelled set.
  A job key no batch waits on any more loses its state (a later attach queues it again) and
  expires after the batch retention.
  Returns {cancelled, jobKey...}: how many items were cancelled, and the job keys nobody
  waits on now (their queue jobs, and a long item's queued segments, can be removed).
]]
--- @include "includes/keys"
--- @include "includes/batchLife"

local batchId = ARGV[2]
if redis.call('EXISTS', KEYS[1]) == 0 then return {0} end
local cancelledKey = cancelledKeyOf(batchId)
local byJob = {}
local order = {}
for index, item in ipairs(redis.call('LRANGE', itemsKeyOf(batchId), 0, -1)) do
  local jobKey = string.match(item, '"jobKey":"(%x+)"')
  if jobKey and redis.call('SISMEMBER', cancelledKey, index - 1) == 0 then
    if not byJob[jobKey] then
      byJob[jobKey] = {}
      order[#order + 1] = jobKey
    end
    table.insert(byJob[jobKey], index - 1)
  end
end
local cancelled = 0
local orphaned = {}
for _, jobKey in ipairs(order) do
  local jk = jobKeyOf(jobKey)
  local state = redis.call('HGET', jk, 'state')
  if state == 'pending' or (state == 'running' and redis.call('HEXISTS', jk, 'segmented') == 1) then
    local indexes = byJob[jobKey]
    local wk = waitersKeyOf(jobKey)
    redis.call('HDEL', wk, batchId)
    redis.call('HINCRBY', countsKeyOf(batchId), state, -#indexes)
    for _, i in ipairs(indexes) do redis.call('SADD', cancelledKey, i) end
    cancelled = cancelled + #indexes
    local left = 0
    local waiters = redis.call('HGETALL', wk)
    for i = 2, #waiters, 2 do left = left + tonumber(waiters[i]) end
    if left <= 0 then
      -- Its run counts stay readable as long as the batch's records, then go (an attach
      -- persists the hash again).
      redis.call('HDEL', jk, 'state', 'error', 'segmented')
      redis.call('EXPIRE', jk, ARGV[5])
      -- So does a long item's segments record: its item's job, which drops the pieces, may
      -- wait on a segment's retry, or fail with it (docs/architecture.md#segments).
      if redis.call('TTL', segmentsKeyOf(jobKey)) == -1 then redis.call('EXPIRE', segmentsKeyOf(jobKey), ARGV[5]) end
      orphaned[#orphaned + 1] = jobKey
    end
  end
end
if cancelled > 0 then
  publishTo(batchId, ARGV[4], cjson.encode({type = 'cancelled', cancelled = cancelled}))
  settleBatch(batchId, ARGV[5], ARGV[3])
end
table.insert(orphaned, 1, cancelled)
return orphaned
