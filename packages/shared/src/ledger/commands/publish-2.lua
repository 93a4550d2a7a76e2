--[[
  Appends an event to a batch's capped stream; the stream expires with its batch.

  KEYS[1] batch hash (only its TTL is read)
  KEYS[2] event stream
  ARGV[1] ledger root
  ARGV[2] event stream MAXLEN
  ARGV[3] event JSON

  Returns the event id.
]]
local id = redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], '*', 'data', ARGV[3])
local ttl = redis.call('PTTL', KEYS[1])
if ttl > 0 then redis.call('PEXPIRE', KEYS[2], ttl) end
return id
