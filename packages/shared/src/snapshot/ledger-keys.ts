import type { Redis } from "ioredis";
import { QUEUES } from "../jobs.ts";
import { redisKeys as K } from "../keys.ts";
import { MAINTENANCE_QUEUE } from "./settings.ts";

/** Which Redis keys a snapshot carries, and how many of them Redis holds. */

/** Package records expire with their packages; a restored one would point at deleted parts. */
export const PACKAGE_RECORD_PREFIX = K.package("");

/**
 * Whether a Redis key belongs to the ledger a snapshot carries: under the ledger root,
 * not a batch's event stream, not a package record, and not a BullMQ key (QUEUE_PREFIX
 * may equal the ledger root, so queue prefixes are excluded explicitly).
 */
export function isLedgerKey(key: string, queueKeyPrefixes: readonly string[]): boolean {
  if (!key.startsWith(K.root)) return false;
  if (key.startsWith(PACKAGE_RECORD_PREFIX)) return false;
  if (key.startsWith(`${K.root}batch:`) && key.endsWith(":events")) return false;
  return !queueKeyPrefixes.some((p) => key.startsWith(p));
}

/** Key prefixes of BullMQ queues: the known ones plus any queue with a meta key under QUEUE_PREFIX. */
export async function queueKeyPrefixes(redis: Redis, queuePrefix: string): Promise<string[]> {
  const names = new Set<string>([...Object.values(QUEUES), MAINTENANCE_QUEUE]);
  for await (const keys of redis.scanStream({ match: `${queuePrefix}:*:meta`, count: 1000 })) {
    for (const key of keys as string[]) {
      const name = key.slice(queuePrefix.length + 1, -":meta".length);
      if (name && !name.includes(":")) names.add(name);
    }
  }
  return [...names].map((n) => `${queuePrefix}:${n}:`);
}

/** How many ledger keys Redis holds (restore refuses to write over them without force). */
export async function countLedgerKeys(redis: Redis, queuePrefix: string): Promise<number> {
  const excluded = await queueKeyPrefixes(redis, queuePrefix);
  let n = 0;
  for await (const keys of redis.scanStream({ match: `${K.root}*`, count: 1000 })) {
    for (const key of keys as string[]) if (isLedgerKey(key, excluded)) n++;
  }
  return n;
}
