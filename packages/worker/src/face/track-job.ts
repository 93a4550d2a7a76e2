import type { S3Client } from "@aws-sdk/client-s3";
import {
  asError,
  type Config,
  type FaceTrack,
  type FaceTrackJob,
  faceTrackJobSchema,
  handBackJob,
  judgeFailure,
  type Ledger,
  type Logger,
  objectKeys,
  putStream,
  TRACK_FORMAT,
} from "@mediaq/shared";
import type { MutexInterface } from "async-mutex";
import { type Processor, UnrecoverableError } from "bullmq";
import { BadInputError, HandBackError } from "../errors.ts";
import { FramePool } from "../frames/frame-pool.ts";
import type { Codecs } from "../media/codecs.ts";
import { decodeFrames } from "../media/decode.ts";
import { videoInfo } from "../media/probe.ts";
import type { ProbeCache } from "../media/probe-cache.ts";
import { fetchInput, type InputCache } from "../input-cache.ts";
import type { ModelCache } from "../model-cache.ts";
import { createScratch } from "../scratch.ts";
import { type IdentityJobOutput, runIdentityJob } from "../adapters/arcface/identity-job.ts";
import { bindBlazeFace } from "./blazeface-binding.ts";
import { followFaces, smoothTrack, type TrackBox } from "./track.ts";

export interface TrackJobDeps {
  /** The video decoder chosen at start-up (media/codecs.ts). */
  codecs: Codecs;
  config: Config;
  s3: S3Client;
  ledger: Ledger;
  models: ModelCache;
  log: Logger;
  shutdown: AbortSignal;
  /** The card's lock, shared with lip-sync inference: one model on the card at a time. */
  inferenceLock: MutexInterface;
  /** The worker's input cache (docs/architecture.md#input-cache); without it the track job downloads its own. */
  inputs?: InputCache;
  probes: ProbeCache;
}

/** What a face-track queue job returns: a track's, or a source identity's (face swap). */
export type TrackJobOutput = FaceTrackOutput | IdentityJobOutput;

export interface FaceTrackOutput {
  trackKey: string;
  skipped?: boolean;
  frames?: number;
  framesWithoutFace?: number;
  /** Wall-clock seconds of the detection section (decode + detect), for the benchmark. */
  detectSeconds?: number;
}

/** Frames per message to the inference thread. */
const DETECT_BATCH = 8;

const round = <T extends number[]>(b: T) => b.map((v) => Math.round(v * 10) / 10) as T;

/**
 * BullMQ processor for QUEUES.faceTrack: fetch the video, run the face detector on every
 * frame, follow one face, smooth, store tracks/<trackKey>/track.json and index it
 * (docs/architecture.md, "Face tracks").
 */
export function createTrackProcessor(deps: TrackJobDeps): Processor<FaceTrackJob, TrackJobOutput> {
  return async (job, token) => {
    // The queue also runs face swap's source identities (adapters/arcface/identity-job.ts).
    if ((job.data as { kind?: string }).kind === "identity") return runIdentityJob(deps, job);
    const parsed = faceTrackJobSchema.safeParse(job.data);
    if (!parsed.success) throw new UnrecoverableError(`malformed face-track job: ${parsed.error.message}`);
    const data = parsed.data;
    const log = deps.log.child({ trackKey: data.trackKey });
    // A track of an older format is made again (it lacks what a newer item needs).
    if ((await deps.ledger.tracks.get(data.trackKey))?.format === TRACK_FORMAT)
      return { trackKey: data.trackKey, skipped: true };
    const abort = new AbortController();
    const onShutdown = () => abort.abort(new HandBackError());
    deps.shutdown.addEventListener("abort", onShutdown, { once: true });
    if (deps.shutdown.aborted) onShutdown();
    const scratch = await createScratch(deps.config.CACHE_ROOT, `track-${data.trackKey}`);
    try {
      return await computeTrack(deps, data, scratch.path("video"), abort.signal, log);
    } catch (err) {
      abort.abort(err);
      // Failure policy (failure-policy.ts): a track has no ledger state of its own to settle;
      // the items waiting on it see its job fail.
      if (judgeFailure(job, err, { shuttingDown: deps.shutdown.aborted }) === "hand-back") {
        log.warn("handed the face-track job back to the queue");
        throw await handBackJob(job, token);
      }
      throw asError(err);
    } finally {
      deps.shutdown.removeEventListener("abort", onShutdown);
      if (deps.config.AUTO_CLEAR_CACHE) await scratch.remove().catch(() => {});
    }
  };
}

async function computeTrack(
  deps: TrackJobDeps,
  data: FaceTrackJob,
  file: string,
  signal: AbortSignal,
  log: Logger,
): Promise<FaceTrackOutput> {
  const { config, s3, ledger } = deps;
  const label = `video input ${data.video.slice(0, 12)}`;
  const detectorLabel = `face detector ${data.params.detector.slice(0, 12)}`;
  const handle = deps.models.get(data.params.detector);
  handle.catch(() => {}); // awaited below
  await fetchInput(deps, data.video, label, file);
  const video = videoInfo(await deps.probes.probe(data.video, file, label), label, config.MAX_FRAME_PIXELS);
  const model = await handle;
  const binding = bindBlazeFace(model, detectorLabel);
  const minScore = data.params.faceMinScore ?? binding.minScore;

  const started = performance.now();
  const faces = await deps.inferenceLock.runExclusive(async () => {
    const found: Awaited<ReturnType<typeof model.detect>>["faces"] = [];
    let batch: Uint8Array[] = [];
    const flush = async () => {
      const reply = await model.detect(binding, { frames: batch, width: video.width, height: video.height, minScore });
      found.push(...reply.faces);
      batch = [];
    };
    // The detector takes rgb24 (its own decode, not the frame path's yuv420p). Detection moves
    // its frames to the inference thread, so each leaves the pool as a copy.
    const pool = new FramePool(video.width * video.height * 3, 2);
    for await (const frame of decodeFrames(file, label, video, "rgb24", pool, deps.codecs, signal)) {
      batch.push(new Uint8Array(frame));
      pool.release(frame);
      if (batch.length === DETECT_BATCH) await flush();
    }
    if (signal.aborted) throw signal.reason;
    if (batch.length > 0) await flush();
    return found;
  });
  const detectSeconds = (performance.now() - started) / 1000;
  if (faces.length === 0) throw new BadInputError(`${label} decoded to zero frames`);

  const followed = followFaces(faces);
  const smooth = <T extends number[]>(per: (T | null)[]) =>
    smoothTrack(per, data.params.smoothing).map((v) => (v ? round(v) : null));
  const boxes = smooth(followed.map((f) => (f ? ([f.x1, f.y1, f.x2, f.y2] as TrackBox) : null)));
  const keypoints = smooth(followed.map((f) => f?.keypoints ?? null));
  const framesWithoutFace = boxes.filter((b) => !b).length;
  const track: FaceTrack = {
    format: TRACK_FORMAT,
    trackKey: data.trackKey,
    video: data.video,
    detector: data.params.detector,
    params: data.params,
    width: video.width,
    height: video.height,
    fps: video.fps,
    frames: boxes.length,
    framesWithoutFace,
    boxes,
    keypoints,
  };
  const key = objectKeys.track(data.trackKey);
  if (signal.aborted) throw signal.reason;
  await putStream(s3, {
    bucket: config.S3_BUCKET,
    key,
    body: JSON.stringify(track),
    contentType: "application/json",
    metadata: { trackkey: data.trackKey, video: data.video, detector: data.params.detector },
  });
  const { boxes: _, keypoints: __, ...summary } = track;
  await ledger.tracks.record({ ...summary, key, completedAt: new Date().toISOString() });
  // Counted like inference runs: tests assert one detection per video, however many items use it.
  await ledger.tracks.countDetectionRun(data.trackKey);
  log.info({ frames: boxes.length, framesWithoutFace, detectSeconds }, "face track stored");
  return { trackKey: data.trackKey, frames: boxes.length, framesWithoutFace, detectSeconds };
}
