import type { S3Client } from "@aws-sdk/client-s3";
import {
  type BuiltPart,
  headObject,
  isFinalFailure,
  type Ledger,
  type Logger,
  type PackageStore,
} from "@mediaq/shared";
import { type Job, UnrecoverableError } from "bullmq";
import { z } from "zod";
import { PartProgress, publishPackage } from "./progress.ts";
import { buildPart } from "./zip-part.ts";

/** BullMQ queue of part jobs: children of a package job, built by any packager. */
export const PART_QUEUE = "package-part";

export const partJobSchema = z.object({
  packageId: z.string().min(1),
  batchId: z.string().min(1),
  expiresAt: z.string(),
  /** Timestamp of every entry (the package's createdAt), so a rebuilt part is byte-identical. */
  date: z.string(),
  totalBytes: z.number().int().min(0),
  name: z.string().min(1),
  key: z.string().min(1),
  /** Exact planned size; the written part must come out at exactly this. */
  size: z.number().int().min(0),
  sources: z.array(
    z.object({
      index: z.number().int().min(0),
      entry: z.string(),
      key: z.string(),
      size: z.number().int().min(0),
      sha256: z.string(),
    }),
  ),
});
export type PartJob = z.infer<typeof partJobSchema>;

export interface PartDeps {
  ledger: Ledger;
  store: PackageStore;
  s3: S3Client;
  bucket: string;
  logger: Logger;
}

/**
 * Builds one part, or returns it unbuilt when an earlier run finished it (the part is in
 * the package's finished-parts hash and its object is in S3 at the planned size). The part
 * is uploaded under its final key; S3 makes a multipart upload visible only when it
 * completes, and a failed upload is aborted, so a part object is always whole.
 */
export async function runPartJob(d: PartDeps, job: Job<PartJob>): Promise<BuiltPart> {
  const p = partJobSchema.parse(job.data);
  const items = p.sources.map((s) => s.index);
  const done = await d.ledger.packageBuilds.builtPart(p.packageId, p.name);
  if (done && done.size === p.size && (await headObject(d.s3, d.bucket, done.key))?.ContentLength === done.size) {
    d.logger.info({ packageId: p.packageId, part: p.name }, "part already built; reusing it");
    return done;
  }
  const manifest = await d.ledger.packageBuilds.manifest(p.packageId);
  if (!manifest) throw new UnrecoverableError(`package ${p.packageId} has expired; its part ${p.name} is not needed`);

  try {
    await d.ledger.packageBuilds.countBuildStart(p.packageId, p.expiresAt, p.name);
    const progress = new PartProgress(
      { ...d, packageId: p.packageId, batchId: p.batchId, expiresAt: p.expiresAt, totalBytes: p.totalBytes },
      p.name,
    );
    let built: { size: number; sha256: string };
    try {
      built = await buildPart({
        s3: d.s3,
        bucket: d.bucket,
        key: p.key,
        manifest,
        size: p.size,
        sources: p.sources,
        date: new Date(p.date),
        onBytes: (bytes) => progress.report(bytes),
      });
    } finally {
      await progress.close();
    }
    if (built.size !== p.size)
      throw new UnrecoverableError(
        `part ${p.name} came out ${built.size} bytes but was planned as ${p.size} bytes; ` +
          "the ZIP layout of archiver changed, so part sizes can no longer be guaranteed",
      );
    const part: BuiltPart = { name: p.name, key: p.key, size: built.size, sha256: built.sha256, items };
    await d.ledger.packageBuilds.rememberBuiltPart(p.packageId, p.expiresAt, part);
    return part;
  } catch (err) {
    const final = isFinalFailure(job, err);
    d.logger.error({ packageId: p.packageId, part: p.name, err, attempt: job.attemptsMade + 1, final }, "part failed");
    // The package fails with the first part that fails for good; its parent job then
    // finds the part missing and stops. Finished parts stay for a later retry.
    if (final) await markFailed(d, p.packageId, `part ${p.name}: ${err instanceof Error ? err.message : String(err)}`);
    throw err;
  }
}

export async function markFailed(
  d: Pick<PartDeps, "store" | "ledger">,
  packageId: string,
  error: string,
): Promise<void> {
  const current = await d.store.get(packageId);
  if (!current || current.state === "failed" || current.state === "ready") return;
  const record = await d.store.update(packageId, { state: "failed", error });
  if (record)
    await publishPackage(
      { ledger: d.ledger, packageId, batchId: record.batchId, totalBytes: record.totalBytes ?? 0 },
      "failed",
      record.bytesWritten ?? 0,
    );
}
