--[[
  A worker starts a job key. Atomic with cancel: a cancel either ran before (and the
  worker sees no batch waiting) or sees the job running and leaves it.

  KEYS[1] job hash
  KEYS[2] waiters hash
  KEYS[3] result hash
  ARGV[1] ledger root
  ARGV[2] job key
  ARGV[3] now, ISO 8601
  ARGV[4] event stream MAXLEN
  ARGV[5] batch retention, seconds
  ARGV[6] 'segment' when a segment of a long item starts (optional)

  Returns 'done' (a result exists: settle, do not run), 'orphan' (no batch waits: do not
  run), 'failed' (a segment of an item that failed: only the item's own job may revive it,
  on retry) or 'started'.
]]
--- @include "includes/keys"
--- @include "includes/batchLife"
--- @include "includes/moveJob"

local old = redis.call('HGET', KEYS[1], 'state')
if redis.call('EXISTS', KEYS[3]) == 1 then
  if old and old ~= 'succeeded' then moveJob(ARGV[2], old, 'succeeded', '', ARGV[3], ARGV[4], ARGV[5]) end
  return 'done'
end
if not old then return 'orphan' end
if ARGV[6] == 'segment' and old == 'failed' then return 'failed' end
local waiting = 0
local waiters = redis.call('HGETALL', KEYS[2])
for i = 2, #waiters, 2 do waiting = waiting + tonumber(waiters[i]) end
if waiting <= 0 then return 'orphan' end
if old ~= 'running' then moveJob(ARGV[2], old, 'running', '', ARGV[3], ARGV[4], ARGV[5]) end
-- A long item's own job taken again (to stitch, or to queue missing segments, which marks it
-- again) no longer waits for its segments: from here a cancel leaves it running like any
-- running item, so a stitch that records its result is never counted cancelled.
if ARGV[6] ~= 'segment' then redis.call('HDEL', KEYS[1], 'segmented') end
return 'started'
