import { redisKeys } from "@mediaq/shared";
import type { Redis } from "ioredis";

/**
 * Package records vanish on their own (Redis TTL), but their objects in S3 do not.
 * This sorted set remembers every package id that may have objects, scored by its
 * expiry in epoch ms, so the sweeper finds what to delete without listing the bucket.
 */
export const PACKAGE_EXPIRY_KEY = `${redisKeys.root}packages:expiry`;

export async function rememberExpiry(redis: Redis, packageId: string, expiresAt: string): Promise<void> {
  await redis.zadd(PACKAGE_EXPIRY_KEY, Date.parse(expiresAt), packageId);
}

export async function expiredPackages(redis: Redis, now: number, limit = 100): Promise<string[]> {
  return redis.zrangebyscore(PACKAGE_EXPIRY_KEY, "-inf", now, "LIMIT", 0, limit);
}

// Removes the id only while its score is still expired: a package rebuilt meanwhile got a later expiry.
const FORGET_IF_EXPIRED = `
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if score and tonumber(score) <= tonumber(ARGV[2]) then return redis.call('ZREM', KEYS[1], ARGV[1]) end
return 0
`;

export async function forgetExpired(redis: Redis, packageId: string, now: number): Promise<boolean> {
  return (await redis.eval(FORGET_IF_EXPIRED, 1, PACKAGE_EXPIRY_KEY, packageId, now)) === 1;
}
