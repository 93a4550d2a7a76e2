--[[
  Records a job key's result; the first result recorded wins, so the recorded sha256
  always names the object it was computed from (each attempt writes its own object).

  KEYS[1] result hash
  KEYS[2] job hash
  ARGV[1] ledger root
  ARGV[2] job key
  ARGV[3] result JSON
  ARGV[4] sha256
  ARGV[5] size
  ARGV[6] object key
  ARGV[7] face track used, JSON ('' = none)
  ARGV[8] now, ISO 8601
  ARGV[9] event stream MAXLEN
  ARGV[10] batch retention, seconds

  Returns {'recorded', key} or {'kept', key of the result recorded earlier}.
]]
--- @include "includes/keys"
--- @include "includes/batchLife"
--- @include "includes/moveJob"

local existing = redis.call('HGET', KEYS[1], 'key')
if existing and existing ~= ARGV[6] then return {'kept', existing} end
redis.call('HSET', KEYS[1], 'json', ARGV[3], 'sha256', ARGV[4], 'size', ARGV[5], 'key', ARGV[6])
if ARGV[7] ~= '' then redis.call('HSET', KEYS[1], 'face', ARGV[7]) end
local old = redis.call('HGET', KEYS[2], 'state')
if old ~= 'succeeded' then moveJob(ARGV[2], old, 'succeeded', '', ARGV[8], ARGV[9], ARGV[10]) end
return {'recorded', ARGV[6]}
