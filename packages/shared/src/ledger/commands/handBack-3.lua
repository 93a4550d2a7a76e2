--[[
  A job handed back to its queue (no attempt spent) makes its job key pending again, unless
  another worker holds the job by now. Called after BullMQ's moveToWait, which checked the
  handing worker's token and deleted its lock: a lock present now is a new holder's, whose
  start made the key running for its own run, so the state is left alone.

  KEYS[1] job hash
  KEYS[2] result hash
  KEYS[3] the queue job's lock (BullMQ's <prefix>:<queue>:<jobId>:lock)
  ARGV[1] ledger root
  ARGV[2] job key
  ARGV[3] now, ISO 8601
  ARGV[4] event stream MAXLEN
  ARGV[5] batch retention, seconds

  Returns 1 when the job key moved from running to pending, else 0.
]]
--- @include "includes/keys"
--- @include "includes/batchLife"
--- @include "includes/moveJob"

if redis.call('EXISTS', KEYS[3]) == 1 or redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
if redis.call('HGET', KEYS[1], 'state') ~= 'running' then return 0 end
moveJob(ARGV[2], 'running', 'pending', '', ARGV[3], ARGV[4], ARGV[5])
return 1
