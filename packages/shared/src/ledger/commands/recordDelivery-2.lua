--[[
  Records a finished delivery in its endpoint's list (newest first, capped). Only while the
  endpoint exists: a delivery finishing after DELETE leaves nothing behind. The list expires
  with its endpoint (a batch's own endpoint expires with its batch).

  KEYS[1] the endpoint
  KEYS[2] its list for the delivery's state
  ARGV[1] ledger root
  ARGV[2] the delivery record JSON
  ARGV[3] the list's cap

  Returns 1 when recorded, 0 when the endpoint is gone.
]]
local ttl = redis.call('PTTL', KEYS[1])
if ttl == -2 then return 0 end
redis.call('LPUSH', KEYS[2], ARGV[2])
redis.call('LTRIM', KEYS[2], 0, tonumber(ARGV[3]) - 1)
if ttl > 0 then redis.call('PEXPIRE', KEYS[2], ttl) end
return 1
