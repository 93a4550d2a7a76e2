import type { S3Client } from "@aws-sdk/client-s3";
import {
  deleteWhere,
  type Ledger,
  type Logger,
  objectKeys,
  type PackageStore,
  type Periodic,
  runPeriodically,
} from "@mediaq/shared";

export interface SweeperDeps {
  ledger: Ledger;
  store: PackageStore;
  s3: S3Client;
  bucket: string;
  logger: Logger;
}

/**
 * Deletes the objects of packages whose expiry has passed; returns the ids swept. A package
 * asked for again after it expired has the same id and prefix, and its new build may write
 * there while this sweep runs: only objects written before the expiry being swept are
 * deleted, and the id is forgotten only while that expiry is still its own
 * (docs/architecture.md#packager).
 */
export async function sweepExpiredPackages(d: SweeperDeps, now = Date.now()): Promise<string[]> {
  const swept: string[] = [];
  for (;;) {
    const expired = await d.ledger.packageBuilds.expired(now);
    if (expired.length === 0) return swept;
    for (const { id, expiry } of expired) {
      // A record still alive means the package was asked for again with a later expiry.
      const record = await d.store.get(id);
      if (record && Date.parse(record.expiresAt) > now) {
        await d.ledger.packageBuilds.rememberExpiry(id, record.expiresAt);
        continue;
      }
      const deleted = (
        await deleteWhere(
          d.s3,
          d.bucket,
          objectKeys.packagePrefix(id),
          (o) => (o.LastModified?.getTime() ?? 0) <= expiry,
        )
      ).length;
      await d.ledger.packageBuilds.forgetExpired(id, expiry);
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
