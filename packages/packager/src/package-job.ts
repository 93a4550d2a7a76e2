import {
  type BuiltPart,
  objectKeys,
  type PackageRecord,
  packageJobSchema,
  putStream,
  type StoredPlan as StoredPlanOf,
} from "@mediaq/shared";
import { type FlowProducer, type Job, UnrecoverableError, WaitingChildrenError } from "bullmq";
import { type Manifest, MANIFEST_NAME, manifestBytes, SUMS_NAME, sha256Sums, withPartDigests } from "./manifest.ts";
import { PART_QUEUE, type PartDeps, type PartJob } from "./part-job.ts";
import { type PlannedPart, planPackage } from "./plan.ts";

type StoredPlan = StoredPlanOf<PlannedPart>;
import { loadPlanItems } from "./plan-items.ts";
import { publishPackage } from "./progress.ts";

/** What a part job needs, plus the flow that adds part jobs. */
export interface PackageJobDeps extends PartDeps {
  flow: FlowProducer;
  /** BullMQ options of part jobs (attempts, backoff, retention). */
  partJobOptions: { attempts: number; backoff: { type: "exponential"; delay: number } };
}

/** Data of the package job: the API sets packageId; the packager adds the generation. */
type PackageJobData = { packageId: string; generation?: number };

/**
 * The package job is the parent of its part jobs. A run of it:
 * 1. waits while part jobs it added are still pending (BullMQ re-runs it when they finish);
 * 2. plans the parts once (kept in Redis, so every later run sees the same plan);
 * 3. if every part is built: writes manifest.json and SHA256SUMS and marks the record ready;
 * 4. else, on the first run or after the package was asked for again, adds one child job
 *    per missing part through the FlowProducer and waits for them; parts finished earlier
 *    are never rebuilt. Otherwise a part failed for good, and so does the package.
 */
export async function runPackageJob(
  d: PackageJobDeps,
  job: Job<PackageJobData>,
  token: string | undefined,
): Promise<PackageRecord | undefined> {
  const { packageId } = packageJobSchema.parse(job.data);
  const generation = job.data.generation;
  if (generation !== undefined && token && (await job.moveToWaitingChildren(token))) throw new WaitingChildrenError();

  const record = await d.store.get(packageId);
  if (!record) {
    d.logger.warn({ packageId }, "package record gone (expired?); skipping");
    return undefined;
  }
  if (record.state === "ready") return record;
  // Remember before the first object is written, so the sweeper can always find them.
  await d.ledger.packageBuilds.rememberExpiry(packageId, record.expiresAt);

  const { plan, manifest } = await d.ledger.packageBuilds.keepPlan(packageId, record.expiresAt, () =>
    makePlan(record, d),
  );
  const built = await d.ledger.packageBuilds.builtParts(packageId);
  const missing = plan.parts.filter((p) => built.get(p.name)?.size !== p.size);
  if (missing.length === 0) return finish(d, record, plan, JSON.parse(manifest.toString()) as Manifest, built);

  if (generation !== undefined && record.state !== "queued") {
    const failures = Object.values(await job.getIgnoredChildrenFailures());
    throw new UnrecoverableError(
      record.error ?? failures[0] ?? `parts ${missing.map((p) => p.name).join(", ")} were not built`,
    );
  }

  const next = (generation ?? 0) + 1;
  const progress = { ledger: d.ledger, packageId, batchId: record.batchId, totalBytes: plan.totalBytes };
  const written = await d.ledger.packageBuilds.bytesWritten(packageId);
  await d.store.update(packageId, {
    state: "building",
    bytesWritten: written,
    totalBytes: plan.totalBytes,
    error: undefined,
  });
  await publishPackage(progress, "building", written);
  d.logger.info(
    { packageId, parts: plan.parts.length, missing: missing.length, totalBytes: plan.totalBytes, generation: next },
    "building package parts",
  );
  const parent = { id: job.id as string, queue: job.queueQualifiedName };
  // Job ids carry the build (the package job's id) and the generation: the same generation
  // added twice (this run crashed before saving it) is a no-op, and a new generation or a
  // new build never collides with failed jobs.
  await d.flow.addBulk(
    missing.map((p) => {
      const data: PartJob = {
        packageId,
        batchId: record.batchId,
        expiresAt: record.expiresAt,
        date: record.createdAt,
        totalBytes: plan.totalBytes,
        name: p.name,
        key: objectKeys.packageObject(packageId, p.name),
        size: p.size,
        sources: p.entries.map((e) => ({
          index: e.index,
          entry: e.entry,
          key: e.key,
          size: e.size,
          sha256: e.sha256,
        })),
      };
      return {
        name: PART_QUEUE,
        queueName: PART_QUEUE,
        data,
        opts: {
          jobId: `${job.id}-${plan.parts.indexOf(p) + 1}-g${next}`,
          parent,
          // A part that fails for good leaves the others building (they are kept for a
          // retry); the package job then runs, finds it missing and fails.
          ignoreDependencyOnFailure: true,
          ...d.partJobOptions,
          removeOnComplete: { age: 3600, count: 1000 },
          removeOnFail: { age: 7 * 24 * 3600 },
        },
      };
    }),
  );
  await job.updateData({ packageId, generation: next });
  if (token && (await job.moveToWaitingChildren(token))) throw new WaitingChildrenError();
  // The children finished before we got to wait for them.
  return runPackageJob(d, job, token);
}

/** Plans from the ledger: exactly the record's items when it names them, else every result. */
async function makePlan(record: PackageRecord, d: PackageJobDeps): Promise<{ plan: StoredPlan; manifest: Buffer }> {
  const items = await loadPlanItems(d.ledger, record.batchId);
  let planned: ReturnType<typeof planPackage>;
  try {
    planned = planPackage({
      packageId: record.id,
      batchId: record.batchId,
      createdAt: record.createdAt,
      partSize: record.partSize,
      items,
      ...(record.itemIndexes ? { include: record.itemIndexes } : {}),
    });
  } catch (err) {
    throw new UnrecoverableError(err instanceof Error ? err.message : String(err));
  }
  const totalBytes = planned.parts.reduce((s, p) => s + p.size, 0);
  return { plan: { parts: planned.parts, totalBytes }, manifest: planned.manifestBytes };
}

/** Writes manifest.json (with every part's size and hash) and SHA256SUMS; marks the record ready. */
async function finish(
  d: PackageJobDeps,
  record: PackageRecord,
  plan: StoredPlan,
  manifest: Manifest,
  built: Map<string, BuiltPart>,
): Promise<PackageRecord | undefined> {
  const parts = plan.parts.map((p) => built.get(p.name) as BuiltPart);
  const digests = new Map(parts.map((p) => [p.name, { size: p.size, sha256: p.sha256 }]));
  const manifestKey = objectKeys.packageObject(record.id, MANIFEST_NAME);
  const sumsKey = objectKeys.packageObject(record.id, SUMS_NAME);
  await putStream(d.s3, {
    bucket: d.bucket,
    key: manifestKey,
    body: manifestBytes(withPartDigests(manifest, digests)),
    contentType: "application/json",
  });
  await putStream(d.s3, { bucket: d.bucket, key: sumsKey, body: sha256Sums(parts), contentType: "text/plain" });
  const ready = await d.store.update(record.id, {
    state: "ready",
    parts,
    manifestKey,
    sumsKey,
    bytesWritten: plan.totalBytes,
    totalBytes: plan.totalBytes,
    error: undefined,
  });
  const progress = { ledger: d.ledger, packageId: record.id, batchId: record.batchId, totalBytes: plan.totalBytes };
  await publishPackage(progress, "ready", plan.totalBytes);
  d.logger.info({ packageId: record.id, parts: parts.length, totalBytes: plan.totalBytes }, "package ready");
  return ready;
}
