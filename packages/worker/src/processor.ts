import { createHash, randomBytes } from "node:crypto";
import fs from "node:fs";
import { pipeline } from "node:stream/promises";
import type { S3Client } from "@aws-sdk/client-s3";
import {
  type Config,
  channelsOf,
  type FaceTrackJob,
  type FaceTrackRecord,
  type InferenceJob,
  inferenceJobSchema,
  type Ledger,
  type Logger,
  type ResultRecord,
  OUTPUT_FILE,
  POSTER_FILE,
  objectKeys,
  PIPELINE_VERSION,
  putStream,
  readFaceTrack,
  recordOutput,
  wav2lipParamsSchema,
} from "@mediaq/shared";
import type { MutexInterface } from "async-mutex";
import { DelayedError, type Job, type Processor, type Queue, UnrecoverableError, WaitingError } from "bullmq";
import { bindWav2Lip, type Wav2LipParams } from "./adapters/wav2lip.ts";
import { melSpectrogramYielding } from "./audio/mel.ts";
import type { DiskGuard } from "./disk-guard.ts";
import { BadInputError, HandBackError } from "./errors.ts";
import { boxCrop, type CropLookup, trackCrops } from "./face/track.ts";
import { awaitFaceTrack } from "./face/track-wait.ts";
import { downloadBlob } from "./fetch.ts";
import { FRAME_STAGES, runFramePath } from "./frames/frame-path.ts";
import type { FrameOps } from "./frames/frame-ops.ts";
import type { Codecs } from "./media/codecs.ts";
import { AUDIO_RATE, decodeAudio, fitSamples } from "./media/decode.ts";
import { makePoster } from "./media/poster.ts";
import { checkBox, probeAudio, probeVideo } from "./media/probe.ts";
import { outputFrameCount } from "./media/timeline.ts";
import type { WorkerMetrics } from "./metrics.ts";
import type { ModelCache } from "./model-cache.ts";
import { ProgressReporter } from "./progress.ts";
import { createScratch, type Scratch } from "./scratch.ts";

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
  /** Native crop and paste (loaded once per process). */
  frameOps: FrameOps;
  /** Names this process's inference spans (ledger.jobs.inferenceSpans). */
  workerId: string;
  /** Checked before a job starts: with too little disk the job goes back to the queue untouched. */
  diskGuard?: DiskGuard;
  /** Where an item queues its video's face track (docs/architecture.md, "Face tracks"). */
  faceTrackQueue: Queue<FaceTrackJob>;
}

/** [start, end] in epoch milliseconds. */
export type Span = [number, number];

export interface JobOutput {
  jobKey: string;
  sha256?: string;
  size?: number;
  skipped?: boolean;
  /** When each stage ran (epoch ms), to see prefetch overlapping another job's inference. */
  spans?: Record<string, Span>;
}

/** A sortable, unique name for one attempt's output folder. */
const newAttemptId = () => `${Date.now().toString(36)}-${randomBytes(4).toString("hex")}`;

// Bytes in this process's live scratch directories (up to three with prefetch), summed into the gauge.
const scratchInUse = new Map<string, number>();
function trackScratch(metrics: WorkerMetrics, dir: string, bytes: number | undefined): void {
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

/** BullMQ processor for QUEUES.inference: fetch -> probe -> decode -> infer -> encode -> upload -> record. */
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

    // An item waits for its video's face track delayed, without spending an attempt.
    let track: FaceTrackRecord | undefined;
    try {
      track = await awaitFaceTrack(deps, job, token);
    } catch (err) {
      if (err instanceof DelayedError) throw err;
      throw await settleFailure(deps, job, token, data.jobKey, err, log);
    }

    // One step with cancel: either the batches still wait and the job runs, or it is skipped.
    // The result index is the record of done work: a job whose result exists never runs again.
    const start = await ledger.jobs.start(data.jobKey);
    if (start !== "started") {
      metrics.jobs.inc({ outcome: "skipped" });
      log.info(
        start === "done" ? "result already recorded; skipping" : "no batch waits on this job any more; skipping",
      );
      return { jobKey: data.jobKey, skipped: true };
    }
    const scratch = await createScratch(deps.config.CACHE_ROOT, data.jobKey);
    // One controller per job: it kills this job's ffmpeg processes on failure or shutdown.
    const abort = new AbortController();
    const onShutdown = () => abort.abort(new HandBackError());
    deps.shutdown.addEventListener("abort", onShutdown, { once: true });
    // A shutdown that came while the ledger was updated or the scratch made fires no event.
    if (deps.shutdown.aborted) onShutdown();
    const timeJob = metrics.jobSeconds.startTimer();
    try {
      const output = await runPipeline(deps, job, data, track, scratch, abort.signal, log);
      metrics.jobs.inc({ outcome: "succeeded" });
      timeJob({ outcome: "succeeded" });
      return output;
    } catch (err) {
      timeJob({ outcome: "failed" });
      abort.abort(err);
      throw await settleFailure(deps, job, token, data.jobKey, err, log);
    } finally {
      deps.shutdown.removeEventListener("abort", onShutdown);
      trackScratch(metrics, scratch.dir, undefined);
      if (deps.config.AUTO_CLEAR_CACHE) await clearScratch(deps, scratch, log);
      else log.info({ dir: scratch.dir }, "AUTO_CLEAR_CACHE=false: keeping scratch directory");
    }
  };
}

/** Records a failure in the ledger and returns the error BullMQ should see. */
async function settleFailure(
  deps: ProcessorDeps,
  job: Job<InferenceJob>,
  token: string | undefined,
  jobKey: string,
  err: unknown,
  log: Logger,
): Promise<Error> {
  const { ledger, metrics } = deps;
  if (deps.shutdown.aborted && !(err instanceof BadInputError)) {
    // Shutting down (ffmpeg was killed under the job): give the job back untouched,
    // without spending an attempt.
    await ledger.jobs.transition(jobKey, "pending");
    await job.moveToWait(token);
    metrics.jobs.inc({ outcome: "handed_back" });
    log.warn("handed the job back to the queue");
    return new WaitingError();
  }
  const message = err instanceof Error ? err.message : String(err);
  if (err instanceof BadInputError) {
    await ledger.jobs.transition(jobKey, "failed", message);
    metrics.jobs.inc({ outcome: "failed" });
    log.warn({ reason: message }, "bad input; not retrying");
    return new UnrecoverableError(message);
  }
  const exhausted = job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
  await ledger.jobs.transition(jobKey, exhausted ? "failed" : "pending", message);
  metrics.jobs.inc({ outcome: exhausted ? "failed" : "retried" });
  log.error({ err }, exhausted ? "job failed; attempts exhausted" : "job failed; will retry");
  return err instanceof Error ? err : new Error(message);
}

/**
 * The crop of each source frame: the user's box on every frame, or the face track's padded
 * boxes (null where no face was found: the frame passes through unchanged).
 */
async function faceCrops(
  deps: ProcessorDeps,
  params: Wav2LipParams,
  record: FaceTrackRecord | undefined,
  video: { width: number; height: number; frames: number },
  label: string,
): Promise<{ lookup: CropLookup; face?: ResultRecord["face"] }> {
  if (params.box) {
    const rect = boxCrop(params.box); // checked against the frame at probe
    return { lookup: () => rect };
  }
  if (!record) throw new Error("no face track for an item without a box"); // awaitFaceTrack gives one
  if (record.framesWithoutFace >= record.frames)
    throw new BadInputError(
      `no face was found in any of the ${record.frames} frames of ${label}; ` +
        "give the face's position with params.box [x, y, width, height], or lower params.faceMinScore",
    );
  const track = await readFaceTrack(deps.s3, deps.config.S3_BUCKET, record);
  return {
    lookup: trackCrops(track.boxes, params.pads, video.width, video.height),
    face: { trackKey: record.trackKey, frames: record.frames, framesWithoutFace: record.framesWithoutFace },
  };
}

async function runPipeline(
  deps: ProcessorDeps,
  job: Job<InferenceJob>,
  data: InferenceJob,
  track: FaceTrackRecord | undefined,
  scratch: Scratch,
  signal: AbortSignal,
  log: Logger,
): Promise<JobOutput> {
  const { config, s3, ledger, metrics } = deps;
  const progress = new ProgressReporter(ledger, job, data.jobKey);
  const timings: Record<string, number> = {};
  const spans: Record<string, Span> = {};
  const stage = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
    if (signal.aborted) throw signal.reason;
    const started = performance.now();
    const startedAt = Date.now();
    progress.report(name, 0, 1);
    try {
      return await fn();
    } finally {
      const seconds = (performance.now() - started) / 1000;
      timings[name] = Math.round(seconds * 1000) / 1000;
      spans[name] = [startedAt, Date.now()];
      metrics.stageSeconds.observe({ stage: name }, seconds);
    }
  };

  if (data.model.adapter !== "wav2lip") throw new BadInputError(`unknown adapter "${data.model.adapter}"`);
  const paramsResult = wav2lipParamsSchema.safeParse(data.params);
  if (!paramsResult.success)
    throw new BadInputError(
      `invalid wav2lip params: ${paramsResult.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`,
    );
  const params = paramsResult.data;
  const labels = {
    video: `video input ${data.inputs.video.slice(0, 12)}`,
    audio: `audio input ${data.inputs.audio.slice(0, 12)}`,
    model: `model ${data.model.sha256.slice(0, 12)}`,
  };
  const files = { video: scratch.path("video"), audio: scratch.path("audio"), output: scratch.path(OUTPUT_FILE) };

  const session = deps.models.get(data.model.sha256);
  session.catch(() => {}); // awaited below; keeps an early model failure from going unhandled
  await stage("fetch", async () => {
    await Promise.all([
      downloadBlob(s3, config.S3_BUCKET, data.inputs.video, labels.video, files.video),
      downloadBlob(s3, config.S3_BUCKET, data.inputs.audio, labels.audio, files.audio),
    ]);
    trackScratch(metrics, scratch.dir, await scratch.size());
  });

  const { video } = await stage("probe", async () => {
    const [video] = await Promise.all([
      probeVideo(files.video, labels.video, config.MAX_FRAME_PIXELS),
      probeAudio(files.audio, labels.audio),
    ]);
    checkBox(params.box, video);
    return { video };
  });
  // The face crop of each source frame (the output loops over them), null = no face.
  const crops = await stage("track", () => faceCrops(deps, params, track, video, labels.video));

  const model = await stage("model", async () => {
    const s = await session;
    return { session: s, binding: bindWav2Lip(s, labels.model) };
  });

  // The output timeline (media/timeline.ts): as long as the audio, or as the video. The mel
  // covers it exactly (audio trimmed or padded with silence), one window per output frame.
  const { mel, outputFrames } = await stage("audio", async () => {
    const samples = await decodeAudio(files.audio, labels.audio, signal);
    const outputFrames = outputFrameCount({
      length: params.length,
      fps: video.fps,
      audioSeconds: samples.length / AUDIO_RATE,
      videoFrames: video.frames,
    });
    return { mel: await melSpectrogramYielding(fitSamples(samples, outputFrames / video.fps)), outputFrames };
  });

  // The frame path holds the card only from its first model call to its last; with prefetch
  // the next job may decode and crop meanwhile, but never run the model at the same time.
  const framePath = await stage("infer", async () =>
    runFramePath({
      videoFile: files.video,
      videoLabel: labels.video,
      video,
      audioFile: files.audio,
      outFile: files.output,
      mel,
      timeline: {
        frames: params.length === "video" ? "clip" : outputFrames,
        loop: params.loop,
        bufferBytes: config.LOOP_BUFFER_BYTES,
      },
      rectOf: crops.lookup,
      order: channelsOf(data.model),
      batchSize: config.INFERENCE_BATCH_SIZE,
      fixedBatch: model.binding.fixedBatch,
      ops: deps.frameOps,
      run: (batch) => model.session.run(model.binding, batch),
      cardLock: deps.inferenceLock,
      codecs: deps.codecs,
      signal,
      onProgress: (done) => progress.report("infer", done, Math.max(done, outputFrames)),
    }),
  );
  const frameCount = framePath.frames;
  const inferenceSeconds = framePath.busy.inference;
  for (const name of FRAME_STAGES) timings[name] = Math.round(framePath.busy[name] * 1000) / 1000;
  const [inferStart, inferEnd] = framePath.cardSpan ?? (spans.infer as Span);
  // Counted overall and per job key: the fault tests assert no finished work is redone.
  await ledger.jobs.countInferenceRun(deps.workerId, {
    jobKey: data.jobKey,
    start: inferStart,
    end: inferEnd,
    runSeconds: inferenceSeconds,
  });
  metrics.inferenceSeconds.observe(inferenceSeconds);
  timings.inference = Math.round(inferenceSeconds * 1000) / 1000;
  trackScratch(metrics, scratch.dir, await scratch.size());

  const key = objectKeys.attemptOutput(data.jobKey, newAttemptId(), OUTPUT_FILE);
  const { sha256, size } = await stage("upload", async () => {
    const hash = createHash("sha256");
    await pipeline(fs.createReadStream(files.output), hash);
    const sha256 = hash.digest("hex");
    const size = fs.statSync(files.output).size;
    // A hand-back stops the upload by failing its body (the result is not recorded below).
    const body = fs.createReadStream(files.output);
    body.on("error", () => {}); // surfaced by the upload; none may go unhandled after it stopped reading
    const onAbort = () => body.destroy(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    await putStream(s3, {
      bucket: config.S3_BUCKET,
      key,
      body,
      contentType: "video/mp4",
      metadata: {
        jobkey: data.jobKey,
        video: data.inputs.video,
        audio: data.inputs.audio,
        model: data.model.sha256,
        adapter: data.model.adapter,
        sha256,
        pipeline: PIPELINE_VERSION,
        params: JSON.stringify(data.params),
      },
      onProgress: (loaded) => progress.report("upload", loaded, size),
    }).finally(() => signal.removeEventListener("abort", onAbort));
    // The page's thumbnail, stored beside the output.
    const poster = scratch.path(POSTER_FILE);
    await makePoster(files.output, poster, signal);
    await putStream(s3, {
      bucket: config.S3_BUCKET,
      key: objectKeys.posterBeside(key),
      body: fs.createReadStream(poster),
      contentType: "image/jpeg",
    });
    return { sha256, size };
  });
  metrics.bytesUploaded.inc(size);

  // The last point a shutdown hands the job back; once the result is being recorded the
  // job finishes.
  if (signal.aborted) throw signal.reason;
  const recorded = await recordOutput(ledger, s3, config.S3_BUCKET, {
    jobKey: data.jobKey,
    key,
    sha256,
    size,
    model: data.model.sha256,
    adapter: data.model.adapter,
    inputs: data.inputs,
    params: data.params,
    completedAt: new Date().toISOString(),
    timings,
    ...(crops.face ? { face: crops.face } : {}),
  });
  // Another run of the same job key recorded first (this one lost its lock): its result
  // stands, and this attempt's object was swept with the others.
  if (!recorded.recorded) log.warn({ kept: recorded.key }, "another attempt recorded this job key first");
  await progress.flush();
  log.info({ frames: frameCount, sha256, size, timings }, "job succeeded");
  return { jobKey: data.jobKey, sha256, size, spans };
}
