--[[
  Asks for a package: creates its record, or returns the living one. A failed package
  is asked for again; one whose record expired is created anew. Every time the package
  must be (re)built it gets a new build id, which names its queue job: BullMQ may still
  hold a finished job of an earlier build under an older id.

  KEYS[1] package record hash
  ARGV[1] ledger root
  ARGV[2] field/value pairs of the new record (JSON-encoded values), as a JSON array
  ARGV[3] record TTL, ms
  ARGV[4] new build id

  Returns {state, buildId, enqueue (1 = write the queue job)}.
]]
local fields = redis.call('HGETALL', KEYS[1])
if #fields > 0 then
  local state = cjson.decode(redis.call('HGET', KEYS[1], 'state'))
  local build = redis.call('HGET', KEYS[1], 'buildId')
  if state ~= 'failed' then return {state, build and cjson.decode(build) or '', 0} end
  redis.call('HSET', KEYS[1], 'state', cjson.encode('queued'), 'buildId', cjson.encode(ARGV[4]))
  redis.call('HDEL', KEYS[1], 'error')
  return {'queued', ARGV[4], 1}
end
local pairs_ = cjson.decode(ARGV[2])
for i = 1, #pairs_, 2 do redis.call('HSET', KEYS[1], pairs_[i], pairs_[i + 1]) end
redis.call('HSET', KEYS[1], 'buildId', cjson.encode(ARGV[4]))
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return {cjson.decode(redis.call('HGET', KEYS[1], 'state')), ARGV[4], 1}
