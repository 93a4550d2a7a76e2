--[[
  Forgets a swept package in the expiry index, only while its expiry is still the one swept:
  a package asked for again meanwhile got a later expiry, and its new objects wait for it.

  KEYS[1] package expiry index (sorted set: package id -> expiry, epoch ms)
  ARGV[1] package id
  ARGV[2] the expiry swept, epoch ms

  Returns 1 when the id was removed, else 0.
]]
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if score and tonumber(score) <= tonumber(ARGV[2]) then return redis.call('ZREM', KEYS[1], ARGV[1]) end
return 0
