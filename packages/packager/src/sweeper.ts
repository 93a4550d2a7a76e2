import type { S3Client } from "@aws-sdk/client-s3";
import {
  deleteWhere,
  type Logger,
  objectKeys,
  type PackageStore,
  type Periodic,
  runPeriodically,
} from "@mediaq/shared";
import type { Redis } from "ioredis";
import { expiredPackages, forgetExpired, rememberExpiry } from "./expiry-index.ts";

export interface SweeperDeps {
  redis: Redis;
  store: PackageStore;
  s3: S3Client;
  bucket: string;
  logger: Logger;
}

/** Deletes every object of packages whose expiry has passed; returns the ids swept. */
export async function sweepExpiredPackages(d: SweeperDeps, now = Date.now()): Promise<string[]> {
  const swept: string[] = [];
  for (;;) {
    const ids = await expiredPackages(d.redis, now);
    if (ids.length === 0) return swept;
    for (const id of ids) {
      // A record still alive means the package was asked for again with a later expiry.
      const record = await d.store.get(id);
      if (record && Date.parse(record.expiresAt) > now) {
        await rememberExpiry(d.redis, id, record.expiresAt);
        continue;
      }
      const deleted = (await deleteWhere(d.s3, d.bucket, objectKeys.packagePrefix(id))).length;
      await forgetExpired(d.redis, id, now);
      d.logger.info({ packageId: id, deleted }, "expired package deleted");
      swept.push(id);
    }
  }
}

/** Sweeps now and then every intervalSeconds; stop() waits for a running sweep. */
export function startSweeper(d: SweeperDeps, intervalSeconds: number): Periodic {
  return runPeriodically(
    () => sweepExpiredPackages(d),
    intervalSeconds,
    (err) => d.logger.error({ err }, "package sweep failed"),
  );
}
