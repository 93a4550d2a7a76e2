import fs from "node:fs";
import type { S3Client } from "@aws-sdk/client-s3";
import {
  asError,
  type Config,
  type FaceTrackJob,
  type FaceTrackRecord,
  handBackJob,
  type InferenceJob,
  inferenceJobSchema,
  judgeFailure,
  type Ledger,
  lockKeyOf,
  type Logger,
  objectKeys,
  POSTER_FILE,
  putStream,
  recordOutput,
  type SegmentJob,
} from "@mediaq/shared";
import type { MutexInterface } from "async-mutex";
import {
  DelayedError,
  type Job,
  type Processor,
  type Queue,
  UnrecoverableError,
  WaitingChildrenError,
  WaitingError,
} from "bullmq";
import type { DecodedClips } from "./decoded-clips.ts";
import type { DiskGuard } from "./disk-guard.ts";
import type { InputCache } from "./input-cache.ts";
import { BadInputError } from "./errors.ts";
import { awaitFaceTrack } from "./face/track-wait.ts";
import type { AlignedOps } from "./adapters/inswapper/warp-ops.ts";
import type { FaceOps } from "./frames/frame-ops.ts";
import type { Codecs } from "./media/codecs.ts";
import type { ProbeCache } from "./media/probe-cache.ts";
import type { WorkerMetrics } from "./metrics.ts";
import type { ModelCache } from "./model-cache.ts";
import { type AdapterRun, resolveAdapter } from "./adapters/registry.ts";
import { newAttemptId, type Span, Stages, trackScratch, uploadFile, withoutPicture, withScratch } from "./pipeline.ts";
import { ProgressReporter } from "./progress.ts";
import { awaitSegments } from "./segments/segment-flow.ts";
import { dropPieces } from "./segments/segment-job.ts";
import { observeCost } from "./segments/frame-cost.ts";
import { planItem } from "./segments/plan-item.ts";

export type { Span } from "./pipeline.ts";

export interface ProcessorDeps {
  config: Config;
  s3: S3Client;
  ledger: Ledger;
  models: ModelCache;
  metrics: WorkerMetrics;
  log: Logger;
  /** Aborted when the worker is stopping and must hand the current job back. */
  shutdown: AbortSignal;
  /** The card: held from a job's first model call to its last, one job at a time. */
  inferenceLock: MutexInterface;
  /** The video encoder and decoder chosen at start-up (media/codecs.ts). */
  codecs: Codecs;
  /** Native crop and paste, lip-sync's and face swap's (loaded once per process, on their own thread). */
  frameOps: FaceOps & AlignedOps;
  /** Names this process's inference spans (ledger.jobs.inferenceSpans). */
  workerId: string;
  /** Checked before a job starts: with too little disk the job goes back to the queue untouched. */
  diskGuard?: DiskGuard;
  /** Where an item queues its video's face track (docs/architecture.md, "Face tracks"). */
  faceTrackQueue: Queue<FaceTrackJob>;
  /** Where a long item queues its segments (docs/architecture.md#segments). */
  segmentQueue: Queue<SegmentJob>;
  /** Inputs fetched once per worker (docs/architecture.md#input-cache); without it each job downloads its own. */
  inputs?: InputCache;
  /** Each input blob's ffprobe, run once per worker (docs/architecture.md#probes-audio-and-decoded-clips). */
  probes: ProbeCache;
  /** Short clips' decoded frames, kept with the inputs (docs/architecture.md#probes-audio-and-decoded-clips). */
  clips: DecodedClips;
  /** Where a script-to-video item queues its speech stage (docs/architecture.md#script-to-video). */
  inferenceQueue: Queue<InferenceJob>;
}

export interface JobOutput {
  jobKey: string;
  sha256?: string;
  size?: number;
  skipped?: boolean;
  /** When each stage ran (epoch ms), to see prefetch overlapping another job's inference. */
  spans?: Record<string, Span>;
}

/**
 * BullMQ processor for QUEUES.inference, whatever the adapter: the adapter prepares the job
 * and makes its output, then upload -> record. A long item instead queues its segments as child jobs, waits for them, and
 * stitches their pieces (docs/architecture.md#segments).
 */
export function createProcessor(deps: ProcessorDeps): Processor<InferenceJob, JobOutput> {
  return async (job, token) => {
    const { ledger, metrics } = deps;
    const parsed = inferenceJobSchema.safeParse(job.data);
    if (!parsed.success) throw new UnrecoverableError(`malformed inference job: ${parsed.error.message}`);
    const data = parsed.data;
    const log = deps.log.child({ jobKey: data.jobKey, attempt: job.attemptsMade + 1 });

    // Free-disk guard: give the job back untouched (no attempt spent) and stop taking jobs.
    if (deps.diskGuard && !(await deps.diskGuard.check())) {
      await job.moveToWait(token);
      log.warn("too little free disk; job handed back to the queue");
      throw new WaitingError();
    }

    // The job's adapter (docs/architecture.md#adapters); an item waits for its video's face
    // track delayed, without spending an attempt.
    let resolved: ReturnType<typeof resolveAdapter>;
    let track: FaceTrackRecord | undefined;
    try {
      resolved = resolveAdapter(data);
      track = await awaitFaceTrack(deps, job, token, data, resolved.adapter.faceTrack?.(data, resolved.params));
      await resolved.adapter.awaitInputs?.({ deps, job, token, data, params: resolved.params });
    } catch (err) {
      if (err instanceof DelayedError) throw err;
      throw await settleFailure(deps, job, token, data.jobKey, err, log);
    }

    // One step with cancel: either the batches still wait and the job runs, or it is skipped.
    // The result index is the record of done work: a job whose result exists never runs again.
    // A stage job (an item's speech) runs for its parent's batches (docs/architecture.md#script-to-video).
    const start = data.stage
      ? await ledger.jobs.startStage(data.jobKey, data.stage.parent)
      : await ledger.jobs.start(data.jobKey);
    if (start !== "started") {
      // Cancelled (no batch waits): a long item's pieces can never be used.
      if (start === "orphan") await dropPieces(deps, data.jobKey);
      metrics.jobs.inc({ outcome: "skipped" });
      log.info(
        start === "done" ? "result already recorded; skipping" : "no batch waits on this job any more; skipping",
      );
      return { jobKey: data.jobKey, skipped: true };
    }
    const timeJob = metrics.jobSeconds.startTimer();
    try {
      const output = await withScratch(deps, data.jobKey, log, (scratch, signal) =>
        runItem(deps, job, token, { data, ...resolved, track, scratch, signal, log }),
      );
      metrics.jobs.inc({ outcome: "succeeded" });
      timeJob({ outcome: "succeeded" });
      return output;
    } catch (err) {
      // A long item waits for its segments, a script-to-video item for its speech (they run
      // as their own jobs); no attempt spent.
      if (err instanceof WaitingChildrenError || err instanceof DelayedError) throw err;
      timeJob({ outcome: "failed" });
      throw await settleFailure(deps, job, token, data.jobKey, err, log);
    }
  };
}

/** Records a failure in the ledger and returns the error BullMQ should see (failure-policy.ts). */
async function settleFailure(
  deps: ProcessorDeps,
  job: Job<InferenceJob>,
  token: string | undefined,
  jobKey: string,
  err: unknown,
  log: Logger,
): Promise<Error> {
  const { ledger, metrics } = deps;
  const error = asError(err);
  const verdict = judgeFailure(job, err, { shuttingDown: deps.shutdown.aborted });
  if (verdict === "hand-back") {
    // Shutting down (ffmpeg was killed under the job): back to the queue, no attempt spent.
    const handed = await handBackJob(job, token, () => ledger.jobs.handBack(jobKey, lockKeyOf(job)));
    metrics.jobs.inc({ outcome: "handed_back" });
    log.warn("handed the job back to the queue");
    return handed;
  }
  await ledger.jobs.transition(jobKey, verdict === "final" ? "failed" : "pending", error.message);
  metrics.jobs.inc({ outcome: verdict === "final" ? "failed" : "retried" });
  if (err instanceof BadInputError) log.warn({ reason: error.message }, "bad input; not retrying");
  else log.error({ err }, verdict === "final" ? "job failed; attempts exhausted" : "job failed; will retry");
  return error;
}

async function runItem(
  deps: ProcessorDeps,
  job: Job<InferenceJob>,
  token: string | undefined,
  o: AdapterRun & { data: InferenceJob },
): Promise<JobOutput> {
  const { config, s3, ledger, metrics } = deps;
  const { data, adapter, params, scratch, signal, log } = o;
  // A stage's progress is its parent item's, shown as the stage's name.
  const progress = new ProgressReporter(ledger, job, data.jobKey, {
    ...(data.stage ? { stageOf: { jobKey: data.stage.parent, stage: data.stage.name } } : {}),
  });
  const stages = new Stages(metrics, progress, signal);
  const ctx = { deps, data, params, track: o.track, scratch, stages, progress, signal, log, item: { job, token } };
  const prepared = await adapter.prepare(ctx);
  const output = adapter.output(params);
  const outFile = scratch.path(output.file);

  // Longer than one segment: the segments run as child jobs on any worker, then this job
  // comes back and stitches their pieces. Otherwise (short items) the output is made here.
  const segmented = prepared.segments;
  const segments = segmented ? await planItem(deps, data, segmented) : undefined;
  const picture = scratch.path(POSTER_FILE);
  let units: number;
  let pictureMade = false;
  if (segmented && segments) {
    const pieces = await awaitSegments(deps, job, token, data, segmented, segments, log);
    units = await segmented.stitch(pieces, outFile);
  } else {
    const made = await prepared.produce(outFile, output.picture ? picture : undefined);
    units = made.units;
    pictureMade = made.picture ?? false;
  }
  trackScratch(metrics, scratch.dir, await scratch.size());

  const key = objectKeys.attemptOutput(data.jobKey, newAttemptId(), output.file);
  const { sha256, size } = await stages.run("upload", async () => {
    const uploaded = await uploadFile(deps, data, outFile, key, {
      contentType: output.contentType,
      output: withoutPicture(output),
      signal,
      onProgress: (loaded, size) => progress.report("upload", loaded, size),
    });
    // The page's thumbnail (a poster, a waveform), stored beside the output: drawn from the
    // output unless the job's encoder wrote it.
    if (output.picture) {
      if (!pictureMade) await output.picture(outFile, picture, signal);
      await putStream(s3, {
        bucket: config.S3_BUCKET,
        key: objectKeys.posterBeside(key),
        body: fs.createReadStream(picture),
        contentType: "image/jpeg",
      });
    }
    return uploaded;
  });

  // The last point a shutdown hands the job back; once the result is being recorded the
  // job finishes.
  if (signal.aborted) throw signal.reason;
  const recorded = await stages.run("record", () =>
    recordOutput(ledger, s3, config.S3_BUCKET, {
      jobKey: data.jobKey,
      key,
      sha256,
      size,
      model: data.model.sha256,
      adapter: data.model.adapter,
      inputs: data.inputs,
      params: data.params,
      completedAt: new Date().toISOString(),
      timings: stages.timings,
      ...(prepared.face ? { face: prepared.face } : {}),
      output: withoutPicture(output),
    }),
  );
  // The pieces were swept with the other attempts' objects.
  if (segments) await ledger.segments.settle(data.jobKey);
  else if (segmented) await observeCost(deps, data, segmented.frameSize, stages, { frames: units, segment: false });
  // Another run of the same job key recorded first (this one lost its lock): its result
  // stands, and this attempt's object was swept with the others.
  if (!recorded.recorded) log.warn({ kept: recorded.key }, "another attempt recorded this job key first");
  await progress.flush();
  log.info({ units, segments: segments?.length, sha256, size, timings: stages.timings }, "job succeeded");
  return { jobKey: data.jobKey, sha256, size, spans: stages.spans };
}
