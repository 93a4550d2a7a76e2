/**
 * What an item's job and a segment's job share, whatever the adapter: stage timing, the
 * scratch directory, counting model runs, and the upload of what the job made
 * (docs/architecture.md#worker, #adapters).
 */
import { createHash, randomBytes } from "node:crypto";
import fs from "node:fs";
import { pipeline } from "node:stream/promises";
import { type InferenceJob, type Logger, type OutputInfo, PIPELINE_VERSION, putStream } from "@mediaq/shared";
import { HandBackError } from "./errors.ts";
import type { WorkerMetrics } from "./metrics.ts";
import type { ProcessorDeps } from "./processor.ts";
import type { ProgressReporter } from "./progress.ts";
import { createScratch, type Scratch } from "./scratch.ts";

/** [start, end] in epoch milliseconds. */
export type Span = [number, number];

/** A sortable, unique name for one attempt's output folder. */
export const newAttemptId = () => `${Date.now().toString(36)}-${randomBytes(4).toString("hex")}`;

/** Times named stages of a job: busy seconds (result timings), spans, the stage histogram. */
export class Stages {
  readonly timings: Record<string, number> = {};
  readonly spans: Record<string, Span> = {};
  private readonly metrics: WorkerMetrics;
  private readonly progress: ProgressReporter;
  private readonly signal: AbortSignal;

  constructor(metrics: WorkerMetrics, progress: ProgressReporter, signal: AbortSignal) {
    this.metrics = metrics;
    this.progress = progress;
    this.signal = signal;
  }

  async run<T>(name: string, fn: () => Promise<T>): Promise<T> {
    if (this.signal.aborted) throw this.signal.reason;
    const started = performance.now();
    const startedAt = Date.now();
    this.progress.report(name, 0, 1);
    try {
      return await fn();
    } finally {
      const seconds = (performance.now() - started) / 1000;
      this.timings[name] = Math.round(seconds * 1000) / 1000;
      this.spans[name] = [startedAt, Date.now()];
      this.metrics.stageSeconds.observe({ stage: name }, seconds);
    }
  }
}

// Bytes in this process's live scratch directories (several with prefetch and segments), summed into the gauge.
const scratchInUse = new Map<string, number>();
export function trackScratch(metrics: WorkerMetrics, dir: string, bytes: number | undefined): void {
  if (bytes === undefined) scratchInUse.delete(dir);
  else scratchInUse.set(dir, bytes);
  metrics.scratchBytes.set([...scratchInUse.values()].reduce((a, b) => a + b, 0));
}

/** Removes a finished job's scratch directory, counting what was freed (or that it failed). */
async function clearScratch(deps: ProcessorDeps, scratch: Scratch, log: Logger): Promise<void> {
  try {
    const bytes = await scratch.size().catch(() => 0);
    await scratch.remove();
    deps.metrics.scratchFreedBytes.inc(bytes);
  } catch (err) {
    deps.metrics.scratchCleanupFailures.inc();
    log.error({ err, dir: scratch.dir }, "could not remove scratch directory; the sweeper will retry");
  }
}

/**
 * Runs `fn` with a scratch directory and an abort signal that kills the job's ffmpeg
 * processes on failure or shutdown; removes the directory afterwards.
 */
export async function withScratch<T>(
  deps: ProcessorDeps,
  name: string,
  log: Logger,
  fn: (scratch: Scratch, signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const scratch = await createScratch(deps.config.CACHE_ROOT, name);
  const abort = new AbortController();
  const onShutdown = () => abort.abort(new HandBackError());
  deps.shutdown.addEventListener("abort", onShutdown, { once: true });
  // A shutdown that came while the ledger was updated or the scratch made fires no event.
  if (deps.shutdown.aborted) onShutdown();
  try {
    return await fn(scratch, abort.signal);
  } catch (err) {
    abort.abort(err);
    throw err;
  } finally {
    deps.shutdown.removeEventListener("abort", onShutdown);
    trackScratch(deps.metrics, scratch.dir, undefined);
    if (deps.config.AUTO_CLEAR_CACHE) await clearScratch(deps, scratch, log);
    else log.info({ dir: scratch.dir }, "AUTO_CLEAR_CACHE=false: keeping scratch directory");
  }
}

/**
 * Counts one run of a job's model, overall and per item job key (a segment's under its
 * item's): the fault tests assert no finished work is redone.
 */
export async function countInferenceRun(
  deps: Pick<ProcessorDeps, "ledger" | "workerId" | "metrics">,
  jobKey: string,
  run: { start: number; end: number; runSeconds: number },
): Promise<void> {
  await deps.ledger.jobs.countInferenceRun(deps.workerId, { jobKey, ...run });
  deps.metrics.inferenceSeconds.observe(run.runSeconds);
}

/**
 * Uploads a file the job made to `key` after hashing it, with the item's metadata. A
 * hand-back stops the upload by failing its body.
 */
export async function uploadFile(
  deps: ProcessorDeps,
  data: InferenceJob,
  file: string,
  key: string,
  o: { contentType: string; output?: OutputInfo; signal: AbortSignal; onProgress?(loaded: number, size: number): void },
): Promise<{ sha256: string; size: number }> {
  const { signal } = o;
  const hash = createHash("sha256");
  await pipeline(fs.createReadStream(file), hash);
  const sha256 = hash.digest("hex");
  const size = fs.statSync(file).size;
  const body = fs.createReadStream(file);
  body.on("error", () => {}); // surfaced by the upload; none may go unhandled after it stopped reading
  const onAbort = () => body.destroy(signal.reason);
  signal.addEventListener("abort", onAbort, { once: true });
  await putStream(deps.s3, {
    bucket: deps.config.S3_BUCKET,
    key,
    body,
    contentType: o.contentType,
    metadata: {
      // Each input by name (video, audio, ...), and all of them: reindex reads them back.
      ...data.inputs,
      jobkey: data.jobKey,
      inputs: JSON.stringify(data.inputs),
      ...(o.output ? { output: JSON.stringify(withoutPicture(o.output)) } : {}),
      model: data.model.sha256,
      adapter: data.model.adapter,
      sha256,
      pipeline: PIPELINE_VERSION,
      params: JSON.stringify(data.params),
    },
    onProgress: (loaded) => o.onProgress?.(loaded, size),
  }).finally(() => signal.removeEventListener("abort", onAbort));
  deps.metrics.bytesUploaded.inc(size);
  return { sha256, size };
}

/** The recorded part of an output spec (its picture function stays behind). */
export const withoutPicture = ({ kind, file, extension, contentType }: OutputInfo): OutputInfo => ({
  kind,
  file,
  extension,
  contentType,
});
