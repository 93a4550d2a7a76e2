--[[
  A worker starts a stage job key (the speech of a script-to-video item): a key no batch may
  wait on itself, run for its parent's batches. Atomic with cancel, as startJob.

  KEYS[1] job hash of the stage
  KEYS[2] waiters hash of the stage
  KEYS[3] result hash of the stage
  KEYS[4] waiters hash of the parent job key
  ARGV[1] ledger root
  ARGV[2] stage job key
  ARGV[3] now, ISO 8601
  ARGV[4] event stream MAXLEN
  ARGV[5] batch retention, seconds

  Returns 'done' (a result exists), 'orphan' (no batch waits on the stage nor on its parent)
  or 'started'. Batches waiting on the stage itself (plain speech items of the same key) see
  it running; otherwise its state is left alone (no batch counts it).
]]
--- @include "includes/keys"
--- @include "includes/batchLife"
--- @include "includes/moveJob"

local function waitingOn(key)
  local waiting = 0
  local waiters = redis.call('HGETALL', key)
  for i = 2, #waiters, 2 do waiting = waiting + tonumber(waiters[i]) end
  return waiting
end

local old = redis.call('HGET', KEYS[1], 'state')
if redis.call('EXISTS', KEYS[3]) == 1 then
  if old and old ~= 'succeeded' then moveJob(ARGV[2], old, 'succeeded', '', ARGV[3], ARGV[4], ARGV[5]) end
  return 'done'
end
if old and waitingOn(KEYS[2]) > 0 then
  if old ~= 'running' then moveJob(ARGV[2], old, 'running', '', ARGV[3], ARGV[4], ARGV[5]) end
  return 'started'
end
if waitingOn(KEYS[4]) > 0 then return 'started' end
return 'orphan'
