--[[
  Saves the notifier's reading position in a batch's state stream once the deliveries of
  the events up to it are queued, and keeps the batch due while unread events remain
  (docs/architecture.md#webhooks). The position expires with its batch; a batch that is
  gone is forgotten.

  KEYS[1] the batch's webhook reader hash (cursor, completed)
  KEYS[2] the batch's state stream
  KEYS[3] the due set (batch id -> ms of its oldest unread state event)
  KEYS[4] batch hash (only its TTL is read)
  ARGV[1] ledger root
  ARGV[2] batch id
  ARGV[3] cursor: id of the last event turned into deliveries (kept if the saved one is later)
  ARGV[4] counts (JSON) of a batch.completed just queued, or ''

  Returns 1 when the batch stays due (unread events remain), else 0.
]]
local ttl = redis.call('PTTL', KEYS[4])
if ttl == -2 then
  redis.call('DEL', KEYS[1])
  redis.call('ZREM', KEYS[3], ARGV[2])
  return 0
end
-- Stream ids "<ms>-<seq>" in order; a cursor never moves back (another notifier may be ahead).
local function before(a, b)
  local am, as = string.match(a, '^(%d+)-?(%d*)$')
  local bm, bs = string.match(b, '^(%d+)-?(%d*)$')
  if tonumber(am) ~= tonumber(bm) then return tonumber(am) < tonumber(bm) end
  return (tonumber(as) or 0) < (tonumber(bs) or 0)
end
local cursor = redis.call('HGET', KEYS[1], 'cursor')
if not cursor or before(cursor, ARGV[3]) then cursor = ARGV[3] end
redis.call('HSET', KEYS[1], 'cursor', cursor)
if ARGV[4] ~= '' then redis.call('HSET', KEYS[1], 'completed', ARGV[4]) end
if ttl > 0 then redis.call('PEXPIRE', KEYS[1], ttl) else redis.call('PERSIST', KEYS[1]) end
local unread = redis.call('XRANGE', KEYS[2], '(' .. cursor, '+', 'COUNT', 1)
if #unread == 0 then
  redis.call('ZREM', KEYS[3], ARGV[2])
  return 0
end
redis.call('ZADD', KEYS[3], 'XX', tonumber(string.match(unread[1][1], '^%d+')), ARGV[2])
return 1
