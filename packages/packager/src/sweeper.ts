import { DeleteObjectsCommand, ListObjectsV2Command, type S3Client } from "@aws-sdk/client-s3";
import { type Logger, objectKeys, type PackageStore } from "@mediaq/shared";
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
      const deleted = await deletePrefix(d.s3, d.bucket, objectKeys.packagePrefix(id));
      await forgetExpired(d.redis, id, now);
      d.logger.info({ packageId: id, deleted }, "expired package deleted");
      swept.push(id);
    }
  }
}

async function deletePrefix(s3: S3Client, bucket: string, prefix: string): Promise<number> {
  let deleted = 0;
  let token: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
    const keys = (page.Contents ?? []).flatMap((o) => (o.Key ? [{ Key: o.Key }] : []));
    if (keys.length > 0) {
      const res = await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys, Quiet: true } }));
      if (res.Errors?.length)
        throw new Error(`deleting ${prefix}: ${res.Errors.map((e) => `${e.Key}: ${e.Message}`).join("; ")}`);
      deleted += keys.length;
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return deleted;
}

/** Sweeps now and then every intervalSeconds; stop() waits for a running sweep. */
export function startSweeper(d: SweeperDeps, intervalSeconds: number): { stop(): Promise<void> } {
  let running: Promise<unknown> = Promise.resolve();
  const run = () => {
    running = running
      .then(() => sweepExpiredPackages(d))
      .catch((err) => d.logger.error({ err }, "package sweep failed"));
  };
  run();
  const timer = setInterval(run, intervalSeconds * 1000);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
