/**
 * The steps an item's job and a segment's job share: fetch -> probe -> track -> model ->
 * audio (the output timeline), the frame path over all or part of it, and the upload of
 * what it encoded (docs/architecture.md#worker, #segments).
 */
import { createHash, randomBytes } from "node:crypto";
import fs from "node:fs";
import { pipeline } from "node:stream/promises";
import {
  channelsOf,
  type FaceTrackRecord,
  type InferenceJob,
  type Logger,
  type ResultRecord,
  PIPELINE_VERSION,
  type SegmentProbe,
  putStream,
  readFaceTrack,
  wav2lipParamsSchema,
} from "@mediaq/shared";
import { bindWav2Lip, type Wav2LipBinding, type Wav2LipParams } from "./adapters/wav2lip.ts";
import { type MelSpectrogram, melSampleSpan, melSpectrogramYielding, type SampleWindow } from "./audio/mel.ts";
import { BadInputError, HandBackError } from "./errors.ts";
import { boxCrop, type CropLookup, trackCrops } from "./face/track.ts";
import { downloadBlob } from "./fetch.ts";
import { FRAME_STAGES, type FramePathResult, runFramePath } from "./frames/frame-path.ts";
import { AUDIO_RATE, decodeAudio, decodeAudioWindow, fitSamples } from "./media/decode.ts";
import { checkBox, probeAudio, probeVideo, type VideoInfo } from "./media/probe.ts";
import { COLOR_MATRICES, type ColorMatrix } from "./media/yuv.ts";
import { outputFrameCount } from "./media/timeline.ts";
import type { WorkerMetrics } from "./metrics.ts";
import type { ModelHandle } from "./model-cache.ts";
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

/** An item fetched and probed, with its face crops, model and output timeline. */
export interface PreparedItem {
  params: Wav2LipParams;
  labels: { video: string; audio: string; model: string };
  files: { video: string; audio: string };
  video: VideoInfo;
  crops: { lookup: CropLookup; face?: ResultRecord["face"] };
  model: { session: ModelHandle; binding: Wav2LipBinding };
  /**
   * The audio fitted to the output timeline (16 kHz mono): all of it, or for a segment only
   * the window its mel reads (decoded on first use).
   */
  samples(): Promise<Float32Array | SampleWindow>;
  outputFrames: number;
}

/** A segment's part in preparing its item: the item's probe (once per item) and its range. */
export interface SegmentPart {
  probe?: SegmentProbe;
  range: { start: number; count: number };
}

/**
 * The mel spectrogram of the output timeline, or only what a segment's frames read; in
 * slices that let the event loop renew BullMQ's lock (docs/architecture.md#worker-deaths).
 */
async function melOf(p: PreparedItem, range?: { start: number; count: number }): Promise<MelSpectrogram> {
  return melSpectrogramYielding(await p.samples(), undefined, range ? { ...range, fps: p.video.fps } : undefined);
}

/** The probe an item's job hands its segments (segment-flow.ts). */
export async function segmentProbe(p: PreparedItem): Promise<SegmentProbe> {
  const audio = await probeAudio(p.files.audio, p.labels.audio);
  return { video: p.video, audioSeekable: audio.codec.startsWith("pcm_") };
}

/** The item's probe as a segment job carries it, when it is one this worker reads. */
function probedVideo(probe: SegmentProbe | undefined): VideoInfo | undefined {
  if (!probe || !COLOR_MATRICES.includes(probe.video.colorMatrix as ColorMatrix)) return undefined;
  return { ...probe.video, colorMatrix: probe.video.colorMatrix as ColorMatrix };
}

/**
 * decodeAudio; a failure (or nothing decoded) is explained by probing the file (empty, not
 * media, no audio stream: messages a person can act on), which only such a decode needs.
 */
async function decodeChecked(
  decode: () => Promise<Float32Array>,
  file: string,
  label: string,
  signal: AbortSignal,
): Promise<Float32Array> {
  let samples: Float32Array;
  try {
    samples = await decode();
  } catch (err) {
    if (signal.aborted) throw err;
    await probeAudio(file, label);
    throw err;
  }
  // No audio stream, or one ffmpeg cannot decode, decodes to nothing without failing.
  if (samples.length === 0) await probeAudio(file, label);
  return samples;
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
): Promise<PreparedItem["crops"]> {
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

/** A function that runs `fn` once, on its first call. */
function once<T>(fn: () => Promise<T>): () => Promise<T> {
  let result: Promise<T> | undefined;
  return () => {
    result ??= fn();
    return result;
  };
}

/**
 * A segment's audio: the window of the item's fitted samples (16 kHz, `total` frames long at
 * `fps`) that its range's mel reads, decoded alone (decodeAudioWindow); silence past the
 * audio's end, as fitSamples pads it.
 */
async function segmentSamples(
  file: string,
  label: string,
  total: number,
  fps: number,
  segment: SegmentPart,
  signal: AbortSignal,
): Promise<SampleWindow> {
  const length = Math.max(1, Math.round((total / fps) * AUDIO_RATE));
  const [from, to] = melSampleSpan(length, { ...segment.range, fps });
  const seekable = segment.probe?.audioSeekable ?? false;
  const decoded = await decodeChecked(
    () => decodeAudioWindow(file, label, { from, to, seekable }, signal),
    file,
    label,
    signal,
  );
  const data = new Float32Array(to - from); // zero = silence past the end
  data.set(decoded.subarray(0, to - from));
  return { data, offset: from, length };
}

/** fetch -> probe -> track -> model -> audio (decoding from the probe on): everything before the frame path. */
export async function prepareItem(
  deps: ProcessorDeps,
  data: InferenceJob,
  track: FaceTrackRecord | undefined,
  scratch: Scratch,
  stages: Stages,
  signal: AbortSignal,
  segment?: SegmentPart & { total: number },
): Promise<PreparedItem> {
  const { config, s3, metrics } = deps;
  const segmentTotal = segment?.total ?? 0;
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
  const files = { video: scratch.path("video"), audio: scratch.path("audio") };

  const session = deps.models.get(data.model.sha256);
  session.catch(() => {}); // awaited below; keeps an early model failure from going unhandled
  const fetchInput = (sha256: string, label: string, file: string) =>
    deps.inputs
      ? deps.inputs.fetch(s3, config.S3_BUCKET, sha256, label, file)
      : downloadBlob(s3, config.S3_BUCKET, sha256, label, file);
  await stages.run("fetch", async () => {
    await Promise.all([
      fetchInput(data.inputs.video, labels.video, files.video),
      fetchInput(data.inputs.audio, labels.audio, files.audio),
    ]);
    trackScratch(metrics, scratch.dir, await scratch.size());
  });

  // With length=audio the audio decodes while the video is probed and its crops found (it
  // needs neither); a failure is reported after the probe's, which names an unreadable file
  // more plainly. A segment decodes only the window its mel reads.
  const decodeWhole = () =>
    decodeChecked(() => decodeAudio(files.audio, labels.audio, signal), files.audio, labels.audio, signal);
  const decodedAudio = params.length === "audio" && !segment ? decodeWhole() : undefined;
  decodedAudio?.catch(() => {}); // awaited below
  // One ffprobe per item: its segments are handed the item's probe.
  const given = probedVideo(segment?.probe);
  const video = await stages.run("probe", async () => {
    const video = given ?? (await probeVideo(files.video, labels.video, config.MAX_FRAME_PIXELS));
    checkBox(params.box, video);
    return video;
  });
  // The face crop of each source frame (the output loops over them), null = no face.
  const crops = await stages.run("track", () => faceCrops(deps, params, track, video, labels.video));

  const model = await stages.run("model", async () => {
    const s = await session;
    return { session: s, binding: bindWav2Lip(s, labels.model) };
  });

  // The output timeline (media/timeline.ts): as long as the audio, or as the video. The audio
  // covers it exactly (trimmed or padded with silence): its mel has one window per output frame.
  // "audio": what is left of the decode once the model is ready.
  const { samples, outputFrames } = await stages.run("audio", async () => {
    if (segment?.probe && given) {
      const total = segmentTotal;
      return {
        samples: once(() => segmentSamples(files.audio, labels.audio, total, video.fps, segment, signal)),
        outputFrames: total,
      };
    }
    if (params.length === "video") {
      const outputFrames = video.frames;
      return { samples: once(async () => fitSamples(await decodeWhole(), outputFrames / video.fps)), outputFrames };
    }
    const decoded = await (decodedAudio ?? decodeWhole());
    const outputFrames = outputFrameCount({
      length: params.length,
      fps: video.fps,
      audioSeconds: decoded.length / AUDIO_RATE,
      videoFrames: video.frames,
    });
    const fitted = fitSamples(decoded, outputFrames / video.fps);
    return { samples: async () => fitted, outputFrames };
  });
  return { params, labels, files, video, crops, model, samples, outputFrames };
}

/**
 * The frame path over the item's output timeline, or over `range` of it (a segment, encoded
 * without audio). Stage busy times go into the timings.
 */
export async function inferFrames(
  deps: ProcessorDeps,
  data: InferenceJob,
  p: PreparedItem,
  stages: Stages,
  o: {
    outFile: string;
    /** A JPEG of the first frame, written by the encoder. */
    posterFile?: string;
    range?: { start: number; count: number };
    signal: AbortSignal;
    onProgress(done: number): void;
  },
): Promise<FramePathResult> {
  const { config } = deps;
  // The frame path holds the card only from its first model call to its last; with prefetch
  // the next job may decode and crop meanwhile, but never run the model at the same time.
  const mel = await stages.run("mel", () => melOf(p, o.range));
  const result = await stages.run("infer", async () =>
    runFramePath({
      videoFile: p.files.video,
      videoLabel: p.labels.video,
      video: p.video,
      audioFile: o.range ? undefined : p.files.audio,
      outFile: o.outFile,
      mel,
      timeline: {
        frames: p.params.length === "video" ? "clip" : p.outputFrames,
        range: o.range,
        loop: p.params.loop,
        bufferBytes: config.LOOP_BUFFER_BYTES,
      },
      rectOf: p.crops.lookup,
      order: channelsOf(data.model),
      batchSize: config.INFERENCE_BATCH_SIZE,
      fixedBatch: p.model.binding.fixedBatch,
      ops: deps.frameOps,
      run: (batch) => p.model.session.run(p.model.binding, batch),
      cardLock: deps.inferenceLock,
      codecs: deps.codecs,
      lossless: config.VIDEO_LOSSLESS,
      posterFile: o.posterFile,
      signal: o.signal,
      onProgress: o.onProgress,
    }),
  );
  const [start, end] = result.cardSpan ?? (stages.spans.infer as Span);
  // Counted overall and per item job key (a segment's under its item's): the fault tests
  // assert no finished work is redone.
  await deps.ledger.jobs.countInferenceRun(deps.workerId, {
    jobKey: data.jobKey,
    start,
    end,
    runSeconds: result.busy.inference,
  });
  for (const name of FRAME_STAGES) stages.timings[name] = Math.round(result.busy[name] * 1000) / 1000;
  deps.metrics.inferenceSeconds.observe(result.busy.inference);
  stages.timings.inference = Math.round(result.busy.inference * 1000) / 1000;
  return result;
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
  signal: AbortSignal,
  onProgress: (loaded: number, size: number) => void,
): Promise<{ sha256: string; size: number }> {
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
    onProgress: (loaded) => onProgress(loaded, size),
  }).finally(() => signal.removeEventListener("abort", onAbort));
  deps.metrics.bytesUploaded.inc(size);
  return { sha256, size };
}
