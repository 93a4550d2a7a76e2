import { paginateListObjectsV2 } from "@aws-sdk/client-s3";
import { SHA256_HEX } from "../hashing.ts";
import { inputsSchema, POSTER_FILE } from "../jobs.ts";
import { objectKeys } from "../object-keys.ts";
import { outputInfoSchema } from "../output-info.ts";
import { Ledger } from "../ledger/index.ts";
import { headObject } from "../s3.ts";
import type { SnapshotDeps } from "./settings.ts";
import pLimit from "p-limit";

/** Rebuilding the result index from output objects, for when no snapshot is usable. */

/** Metadata keys the worker puts on each output object (S3 lowercases them). */
export const OUTPUT_METADATA_KEYS = [
  "jobkey",
  "sha256",
  "video",
  "audio",
  "inputs",
  "output",
  "model",
  "adapter",
  "params",
  "pipeline",
] as const;

const parseJson = (text: string): unknown => {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
};

export interface ReindexReport {
  /** Objects listed under outputs/. */
  objects: number;
  /** Results written to the index. */
  indexed: number;
  /** Results the index already had with the same output hash. */
  known: number;
  /** Objects without (valid) worker metadata, e.g. partial or foreign files. */
  skipped: { key: string; reason: string }[];
}

/**
 * Rebuilds the result index from the metadata of output objects in S3, without needing
 * batches: afterwards any batch re-submitted finds its finished items succeeded.
 */
export async function reindexOutputs(deps: SnapshotDeps, opts: { concurrency?: number } = {}): Promise<ReindexReport> {
  const { redis, s3, config } = deps;
  const bucket = config.S3_BUCKET;
  const ledger = new Ledger(redis);
  const report: ReindexReport = { objects: 0, indexed: 0, known: 0, skipped: [] };
  const limit = pLimit(Math.max(1, opts.concurrency ?? 16));

  const one = async (key: string) => {
    const head = await headObject(s3, bucket, key);
    if (!head) return; // deleted since listing
    const m = head.Metadata ?? {};
    const jobKey = key.slice(objectKeys.outputsPrefix.length).split("/")[0] ?? "";
    const skip = (reason: string) => report.skipped.push({ key, reason });
    if (!m.jobkey) return skip("no jobkey metadata");
    if (m.jobkey !== jobKey) return skip(`jobkey metadata ${m.jobkey} does not match the object key`);
    if (!m.sha256 || !SHA256_HEX.test(m.sha256)) return skip("no valid sha256 metadata");
    // Every input by name (JSON); outputs made before it was written name video and audio only.
    const inputs = inputsSchema.safeParse(m.inputs ? parseJson(m.inputs) : { video: m.video, audio: m.audio });
    if (!inputs.success) return skip("no valid inputs metadata");
    const output = m.output ? outputInfoSchema.safeParse(parseJson(m.output)) : undefined;
    if (output && !output.success) return skip("output metadata is not valid");
    if (!m.model || !m.adapter) return skip("no model/adapter metadata");
    let params: Record<string, unknown> = {};
    try {
      params = m.params ? (JSON.parse(m.params) as Record<string, unknown>) : {};
    } catch {
      return skip("params metadata is not JSON");
    }
    const existing = await ledger.jobs.getResult(jobKey);
    if (existing?.sha256 === m.sha256) {
      report.known++;
      return;
    }
    const { recorded } = await ledger.jobs.recordResult({
      jobKey,
      key,
      sha256: m.sha256,
      size: head.ContentLength ?? 0,
      model: m.model,
      adapter: m.adapter,
      inputs: inputs.data,
      params,
      ...(output?.success ? { output: output.data } : {}),
      completedAt: (m.completedat ?? head.LastModified?.toISOString() ?? new Date().toISOString()) as string,
    });
    // The first object indexed for a job key stands; another attempt's object is superseded.
    if (recorded) report.indexed++;
    else report.known++;
  };

  for await (const page of paginateListObjectsV2(
    { client: s3 },
    { Bucket: bucket, Prefix: objectKeys.outputsPrefix },
  )) {
    // Neither the poster beside each output (POSTER_FILE) nor a long item's segment pieces
    // (docs/architecture.md#segments) are results of their own.
    const keys = (page.Contents ?? [])
      .map((o) => o.Key as string)
      .filter((k) => k && !k.endsWith(`/${POSTER_FILE}`) && !objectKeys.isSegmentPiece(k));
    report.objects += keys.length;
    // Bounded concurrency: `concurrency` HEADs in flight, one page at a time.
    await Promise.all(keys.map((key) => limit(() => one(key))));
  }
  deps.logger?.info({ ...report, skipped: report.skipped.length }, "result index rebuilt from outputs");
  return report;
}
