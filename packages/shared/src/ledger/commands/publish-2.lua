--[[
  Appends an event to a batch's capped stream; the stream expires with its batch. An event
  for a batch that is gone (expired) is dropped: it would start a stream nothing expires.

  KEYS[1] batch hash (only its TTL is read)
  KEYS[2] event stream
  ARGV[1] ledger root
  ARGV[2] event stream MAXLEN
  ARGV[3] event JSON

  Returns the event id, or false when the batch is gone.
]]
local ttl = redis.call('PTTL', KEYS[1])
if ttl == -2 then return false end
local id = redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], '*', 'data', ARGV[3])
if ttl > 0 then redis.call('PEXPIRE', KEYS[2], ttl) end
return id
