--[[
  Queues a batch's failed items again: each failed job key moves back to pending (for every
  batch waiting on it) and goes into the outbox until its queue job is written.

  KEYS[1] batch hash
  ARGV[1] ledger root
  ARGV[2] batch id
  ARGV[3] now, ISO 8601
  ARGV[4] now, epoch ms
  ARGV[5] event stream MAXLEN
  ARGV[6] batch retention, seconds

  Returns {retried, outboxEntry...}: how many of this batch's items were retried, and the
  outbox entries ("<batchId>:<index>") whose queue jobs the caller writes.
]]
--- @include "includes/keys"
--- @include "includes/batchLife"
--- @include "includes/moveJob"

local batchId = ARGV[2]
if redis.call('EXISTS', KEYS[1]) == 0 then return {0} end
local cancelledKey = cancelledKeyOf(batchId)
local seen = {}
local retried = 0
local entries = {}
for index, item in ipairs(redis.call('LRANGE', itemsKeyOf(batchId), 0, -1)) do
  local jobKey = string.match(item, '"jobKey":"(%x+)"')
  if jobKey and redis.call('SISMEMBER', cancelledKey, index - 1) == 0 then
    if seen[jobKey] == nil then
      seen[jobKey] = false
      if redis.call('HGET', jobKeyOf(jobKey), 'state') == 'failed' then
        moveJob(jobKey, 'failed', 'pending', '', ARGV[3], ARGV[5], ARGV[6])
        local entry = batchId .. ':' .. (index - 1)
        redis.call('ZADD', OUTBOX, ARGV[4], entry)
        entries[#entries + 1] = entry
        seen[jobKey] = true
      end
    end
    if seen[jobKey] then retried = retried + 1 end
  end
end
table.insert(entries, 1, retried)
return entries
