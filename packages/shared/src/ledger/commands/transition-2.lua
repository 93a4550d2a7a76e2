--[[
  Moves a job key to a new state (a worker's outcome, a hand-back, a restore).

  KEYS[1] job hash
  KEYS[2] result hash
  ARGV[1] ledger root
  ARGV[2] job key
  ARGV[3] new state: pending | running | succeeded | failed
  ARGV[4] error ('' = none)
  ARGV[5] now, ISO 8601
  ARGV[6] event stream MAXLEN
  ARGV[7] batch retention, seconds
  ARGV[8] the state it must be in to move ('' = any but succeeded)

  Returns 1 when the state moved, 0 when it was there already, has succeeded, was dropped
  by a cancel (only attach brings a job key back), or is not in ARGV[8]. A job key with a
  result can only move to succeeded.
]]
--- @include "includes/keys"
--- @include "includes/batchLife"
--- @include "includes/moveJob"

local old = redis.call('HGET', KEYS[1], 'state')
local new = ARGV[3]
if not old or old == new or old == 'succeeded' then return 0 end
if ARGV[8] ~= '' and old ~= ARGV[8] then return 0 end
if new ~= 'succeeded' and redis.call('EXISTS', KEYS[2]) == 1 then new = 'succeeded' end
moveJob(ARGV[2], old, new, ARGV[4], ARGV[5], ARGV[6], ARGV[7])
return 1
