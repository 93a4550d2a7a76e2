--[[
  Updates fields of a living package record in one step (concurrent writers of other
  fields lose nothing); the record keeps its expiry.

  KEYS[1] package record hash
  ARGV[1] ledger root
  ARGV[2] JSON array of field/value pairs to set (values JSON-encoded)
  ARGV[3] JSON array of fields to remove

  Returns 1, or 0 when the record is gone (nothing is written).
]]
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local set = cjson.decode(ARGV[2])
for i = 1, #set, 2 do redis.call('HSET', KEYS[1], set[i], set[i + 1]) end
local unset = cjson.decode(ARGV[3])
for _, f in ipairs(unset) do redis.call('HDEL', KEYS[1], f) end
return 1
