--[[
  Appends an event to a batch's capped stream; the stream expires with its batch. A state
  event (anything but progress) also goes to the batch's state stream under the same id,
  and marks the batch due for the notifier when an endpoint hears it (publishTo). An event
  for a batch that is gone (expired) is dropped: it would start a stream nothing expires.

  KEYS[1] batch hash (only its TTL is read)
  KEYS[2] event stream
  ARGV[1] ledger root
  ARGV[2] event stream MAXLEN
  ARGV[3] event JSON
  ARGV[4] batch id
  ARGV[5] '1' for a state event, '0' for progress

  Returns the event id, or false when the batch is gone.
]]
--- @include "includes/keys"
--- @include "includes/batchLife"

local ttl = redis.call('PTTL', KEYS[1])
if ttl == -2 then return false end
if ARGV[5] == '1' then return publishTo(ARGV[4], ARGV[2], ARGV[3]) end
local id = redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], '*', 'data', ARGV[3])
if ttl > 0 then redis.call('PEXPIRE', KEYS[2], ttl) end
return id
