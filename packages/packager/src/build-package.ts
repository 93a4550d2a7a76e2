import type { S3Client } from "@aws-sdk/client-s3";
import {
  type Ledger,
  type Logger,
  OUTPUT_FILE,
  objectKeys,
  type PackagePart,
  type PackageRecord,
  type PackageStore,
  putStream,
} from "@mediaq/shared";
import { UnrecoverableError } from "bullmq";
import type { Redis } from "ioredis";
import { rememberExpiry } from "./expiry-index.ts";
import { MANIFEST_NAME, manifestBytes, SUMS_NAME, sha256Sums, withPartDigests } from "./manifest.ts";
import { type PlanItem, type PlannedPart, planPackage } from "./plan.ts";
import { PackageProgress } from "./progress.ts";
import { buildPart } from "./zip-part.ts";

export interface BuildDeps {
  redis: Redis;
  ledger: Ledger;
  store: PackageStore;
  s3: S3Client;
  bucket: string;
  logger: Logger;
  partConcurrency: number;
}

const PAGE = 500;

/** The batch's items in order, with their state and, for succeeded ones, their result. */
export async function loadPlanItems(ledger: Ledger, batchId: string): Promise<PlanItem[]> {
  const batch = await ledger.getBatch(batchId);
  if (!batch) throw new UnrecoverableError(`batch ${batchId} no longer exists; nothing to package`);
  const total = await ledger.total(batchId);
  const items: PlanItem[] = [];
  for (let start = 0; start < total; start += PAGE) {
    const [raw, views] = await Promise.all([
      ledger.items(batchId, start, PAGE),
      ledger.itemViews(batchId, start, PAGE),
    ]);
    const results = await ledger.getResults(raw.map((i) => i.jobKey));
    raw.forEach((item, i) => {
      const view = views[i];
      const result = results[i];
      items.push({
        index: start + i,
        name: item.name,
        jobKey: item.jobKey,
        state: result ? "succeeded" : (view?.state ?? "pending"),
        ...(view?.error && !result ? { error: view.error } : {}),
        model: result?.model ?? batch.model,
        params: result?.params ?? item.params,
        ...(result
          ? {
              output: {
                sha256: result.sha256,
                size: result.size,
                ...(result.timings ? { timings: result.timings } : {}),
              },
            }
          : {}),
      });
    });
  }
  return items;
}

/**
 * Builds a queued package: plans the parts, streams them to S3 (a few at a time),
 * checks each against its planned size, then writes manifest.json and SHA256SUMS and
 * marks the record ready. Returns undefined when the record is gone (expired).
 */
export async function buildPackage(d: BuildDeps, packageId: string): Promise<PackageRecord | undefined> {
  const record = await d.store.get(packageId);
  if (!record) {
    d.logger.warn({ packageId }, "package record gone (expired?); skipping");
    return undefined;
  }
  if (record.state === "ready") return record;
  // Remember before the first object is written, so the sweeper can always find them.
  await rememberExpiry(d.redis, packageId, record.expiresAt);

  const items = await loadPlanItems(d.ledger, record.batchId);
  const plan = planPackage({
    packageId,
    batchId: record.batchId,
    createdAt: record.createdAt,
    partSize: record.partSize,
    items,
  });
  const totalBytes = plan.parts.reduce((s, p) => s + p.size, 0);
  await d.store.update(packageId, { state: "building", bytesWritten: 0, totalBytes, error: undefined });
  const progress = new PackageProgress(d.store, d.ledger, packageId, record.batchId, totalBytes);
  await progress.send("building");
  d.logger.info({ packageId, parts: plan.parts.length, totalBytes }, "building package");

  const outputKey = new Map(items.map((i) => [i.index, objectKeys.output(i.jobKey, OUTPUT_FILE)]));
  const date = new Date(record.createdAt);
  let parts: PackagePart[];
  try {
    parts = await mapLimit(plan.parts, d.partConcurrency, async (part: PlannedPart) => {
      const key = objectKeys.packageObject(packageId, part.name);
      const built = await buildPart({
        s3: d.s3,
        bucket: d.bucket,
        key,
        manifest: plan.manifestBytes,
        sources: part.entries.map((e) => ({
          entry: e.entry,
          key: outputKey.get(e.index) as string,
          size: e.size,
          sha256: e.sha256,
        })),
        date,
        onBytes: (bytes) => progress.report(part.name, bytes),
      });
      if (built.size !== part.size)
        throw new UnrecoverableError(
          `part ${part.name} came out ${built.size} bytes but was planned as ${part.size} bytes; ` +
            "the ZIP layout of archiver changed, so part sizes can no longer be guaranteed",
        );
      return { name: part.name, key, size: built.size, sha256: built.sha256, items: part.entries.map((e) => e.index) };
    });
  } finally {
    await progress.close();
  }

  const digests = new Map(parts.map((p) => [p.name, { size: p.size, sha256: p.sha256 }]));
  const manifestKey = objectKeys.packageObject(packageId, MANIFEST_NAME);
  const sumsKey = objectKeys.packageObject(packageId, SUMS_NAME);
  await putStream(d.s3, {
    bucket: d.bucket,
    key: manifestKey,
    body: manifestBytes(withPartDigests(plan.manifest, digests)),
    contentType: "application/json",
  });
  await putStream(d.s3, { bucket: d.bucket, key: sumsKey, body: sha256Sums(parts), contentType: "text/plain" });

  const ready = await d.store.update(packageId, {
    state: "ready",
    parts,
    manifestKey,
    sumsKey,
    bytesWritten: totalBytes,
    totalBytes,
  });
  await progress.send("ready");
  d.logger.info({ packageId, parts: parts.length, totalBytes }, "package ready");
  return ready;
}

/** Runs fn over items with at most `limit` at once; results keep the input order. */
async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  let failed = false;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length && !failed) {
      const i = next++;
      try {
        results[i] = await fn(items[i] as T);
      } catch (err) {
        failed = true; // the other lanes finish their current item and stop
        throw err;
      }
    }
  });
  const settled = await Promise.allSettled(lanes);
  const rejected = settled.find((r) => r.status === "rejected");
  if (rejected) throw rejected.reason;
  return results;
}
