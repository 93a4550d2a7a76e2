--[[
  Creates a batch with its items in one step, bound to an Idempotency-Key when given.

  KEYS[1] idempotency key (tenant + Idempotency-Key), or any unused key when none is given
  KEYS[2] batch hash
  KEYS[3] tenant's batch index (sorted set)
  ARGV[1] ledger root
  ARGV[2] batch id
  ARGV[3] batch record JSON
  ARGV[4] now, ISO 8601
  ARGV[5] now, epoch ms
  ARGV[6] request fingerprint ('' = no Idempotency-Key)
  ARGV[7] idempotency TTL, seconds
  ARGV[8] event stream MAXLEN
  ARGV[9] batch retention, seconds
  ARGV[10] tenant
  ARGV[11] the batch's own webhook endpoint id ('' = none)
  ARGV[12] the batch's own webhook endpoint JSON ('' = none)
  ARGV[13..] jobKey, name, itemJson per item

  Returns:
    {'replay', batchId}    the key names a living batch made from the same request
    {'mismatch', batchId}  the key names a batch made from another request
    {'taken', name...}     (cannot happen for a new batch; kept for one reply shape)
    {'ok', firstIndex, state1, enqueue1, ...} created
  A key whose batch is gone (expired, or lost) heals: it is bound to the new batch.
  The batch is subscribed in the same step (its own endpoint, if any, and the tenant's
  endpoints at this moment), so no crash leaves a batch its endpoints do not hear.
  The tenant's batch index drops its two oldest ids when their batches expired, so it stays
  bounded without a sweeper.
]]
--- @include "includes/keys"
--- @include "includes/batchLife"
--- @include "includes/moveJob"
--- @include "includes/attachItems"

local batchId = ARGV[2]
if ARGV[6] ~= '' then
  local bound = redis.call('HMGET', KEYS[1], 'batch', 'fingerprint')
  if bound[1] and redis.call('EXISTS', batchKeyOf(bound[1])) == 1 then
    if bound[2] == ARGV[6] then return {'replay', bound[1]} end
    return {'mismatch', bound[1]}
  end
  redis.call('DEL', KEYS[1])
  redis.call('HSET', KEYS[1], 'batch', batchId, 'fingerprint', ARGV[6])
  redis.call('EXPIRE', KEYS[1], ARGV[7])
end
redis.call('HSET', KEYS[2], 'json', ARGV[3])
redis.call('HSET', countsKeyOf(batchId), 'pending', 0, 'running', 0, 'succeeded', 0, 'failed', 0)
for _, old in ipairs(redis.call('ZRANGE', KEYS[3], 0, 1)) do
  if redis.call('EXISTS', batchKeyOf(old)) == 0 then redis.call('ZREM', KEYS[3], old) end
end
redis.call('ZADD', KEYS[3], ARGV[5], batchId)
if ARGV[11] ~= '' then
  redis.call('SET', webhookKeyOf(ARGV[11]), ARGV[12])
  redis.call('HSET', KEYS[2], 'webhook', ARGV[11])
  redis.call('SADD', batchWebhooksKeyOf(batchId), ARGV[11])
end
local tenantEndpoints = redis.call('SMEMBERS', tenantWebhooksKeyOf(ARGV[10]))
if #tenantEndpoints > 0 then redis.call('SADD', batchWebhooksKeyOf(batchId), unpack(tenantEndpoints)) end
return attachItems(batchId, 13, ARGV[4], ARGV[5], ARGV[8], ARGV[9])
