--[[
  Appends items to a living batch.

  KEYS[1] batch hash
  ARGV[1] ledger root
  ARGV[2] batch id
  ARGV[3] now, ISO 8601
  ARGV[4] now, epoch ms
  ARGV[5] event stream MAXLEN
  ARGV[6] batch retention, seconds
  ARGV[7..] jobKey, name, itemJson per item

  Returns {'missing'} when the batch is gone, {'taken', name...} when a name is used
  already (nothing written), else {'ok', firstIndex, state1, enqueue1, ...}.
]]
--- @include "includes/keys"
--- @include "includes/batchLife"
--- @include "includes/moveJob"
--- @include "includes/attachItems"

if redis.call('EXISTS', KEYS[1]) == 0 then return {'missing'} end
return attachItems(ARGV[2], 7, ARGV[3], ARGV[4], ARGV[5], ARGV[6])
