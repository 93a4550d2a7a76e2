import type { Redis } from "ioredis";
import { isSnapshotKey, redisKeys as K } from "../ledger/keys.ts";

/**
 * Which Redis keys a snapshot carries: exactly the key families ledger/keys.ts marks as
 * ledger data (results, job states, batches, tenants' models and blobs, idempotency keys,
 * the outbox). Event streams, package records, stats and BullMQ's keys are left out.
 */
export const isLedgerKey = isSnapshotKey;

/** How many ledger keys Redis holds (restore refuses to write over them without force). */
export async function countLedgerKeys(redis: Redis): Promise<number> {
  let n = 0;
  for await (const keys of redis.scanStream({ match: `${K.root}*`, count: 1000 })) {
    for (const key of keys as string[]) if (isLedgerKey(key)) n++;
  }
  return n;
}
