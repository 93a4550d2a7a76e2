/**
 * The frame path of one job: decode -> preprocess (crop, scale, mel windows) -> session.run ->
 * paste -> encode, as concurrent stages joined by bounded queues, over a fixed pool of frame
 * buffers. The job's wall time approaches its slowest stage's; the frames in flight never
 * exceed the pool (docs/architecture.md#frame-path).
 */
import type { MutexInterface } from "async-mutex";
import { MEL, type MelSpectrogram, melWindow } from "../audio/mel.ts";
import { type TimelineOptions, timelineFrames } from "../media/timeline-frames.ts";
import type { LoopMode } from "../media/timeline.ts";
import type { Codecs } from "../media/codecs.ts";
import { type Encoder, startEncoder } from "../media/encode.ts";
import type { VideoInfo } from "../media/probe.ts";
import { frameBytes } from "../media/yuv.ts";
import { ahead } from "./ahead.ts";
import { CardHold } from "./card-hold.ts";
import { encodeFrames, FRAME_QUEUE, framesInFlight } from "./encode-frames.ts";
import {
  type BoxedFrames,
  type ChannelOrder,
  FACE_FLOATS,
  type FaceOps,
  PREDICTION_FLOATS,
  type Rect,
} from "./frame-ops.ts";
import { FramePool } from "./frame-pool.ts";

const MEL_FLOATS = 80 * MEL.stepSize;

/** The stages whose busy time a job reports (seconds; see FramePathResult.busy). */
export const FRAME_STAGES = ["decode", "preprocess", "inference", "paste", "encode"] as const;
export type FrameStage = (typeof FRAME_STAGES)[number];

/** One model call's inputs, built by the frame path. */
export interface FaceBatch {
  /** [b,6,96,96] face inputs (frame-ops crop), b = the model's fixed batch or `count`. */
  face: Float32Array;
  /** [b,1,80,16] mel windows, one per face. */
  mel: Float32Array;
  /** [b,3,96,96]: the model's prediction is copied here, so a batch's arrays are reused. */
  prediction: Float32Array;
  /** Faces that are real; a fixed-batch model's extra slots repeat the last one. */
  count: number;
}

export interface FramePathOptions {
  videoFile: string;
  videoLabel: string;
  video: VideoInfo;
  /** Muxed into the output; without it the output is video only (a segment's piece). */
  audioFile?: string;
  outFile: string;
  /** One window per output frame (the output timeline, media/timeline.ts). */
  mel: MelSpectrogram;
  /**
   * Output frames ("clip" = one pass over the clip), how the clip loops to cover them, and
   * the loop's buffer; with `range`, only those output frames (a segment).
   */
  timeline: { frames: number | "clip"; range?: { start: number; count: number }; loop: LoopMode; bufferBytes: number };
  /** The face crop of source frame `source`; null passes the frame through unchanged. */
  rectOf(source: number): Rect | null;
  order: ChannelOrder;
  /** Faces per model call; with `fixedBatch` the call is padded to it. */
  batchSize: number;
  fixedBatch?: number;
  /** Crop and paste (the worker runs them on a thread of their own: frame-ops-client.ts). */
  ops: FaceOps;
  /**
   * One model call (on the inference thread): fills the batch's prediction. The reply's batch
   * replaces the one given (the same shared memory; a trimmed last batch's own arrays are
   * transferred there and back).
   */
  run(batch: FaceBatch): Promise<{ batch: FaceBatch; runSeconds: number }>;
  /** The card: held from the first model call to the last. */
  cardLock: MutexInterface;
  codecs: Codecs;
  /** The worker's decoded clips and this clip's blob (decoded-clips.ts). */
  clips?: TimelineOptions["clips"];
  /** Lossless video (VIDEO_LOSSLESS). */
  lossless?: boolean;
  /** A JPEG of the first output frame, written by the encoder (media/encode.ts). */
  posterFile?: string;
  signal: AbortSignal;
  onProgress(framesDone: number): void;
}

export interface FramePathResult {
  frames: number;
  /** Frames the decoder decoded: `frames` plus what its seeks decoded before their ranges (and loops' re-reads). */
  decodedFrames: number;
  /** Per stage, seconds it was working (not waiting on its neighbours). */
  busy: Record<FrameStage, number>;
  /** When this job held the card (epoch ms), or undefined when no frame had a face. */
  cardSpan?: [number, number];
}

interface Frame {
  /** On the output timeline (selects the mel window). */
  index: number;
  data: Uint8Array;
  rect: Rect | null;
}

interface Batch {
  frames: Frame[];
  /** The frames with a face, in slot order. */
  boxed: BoxedFrames;
  faces: FaceBatch;
}

export async function runFramePath(o: FramePathOptions): Promise<FramePathResult> {
  const format = { width: o.video.width, height: o.video.height, colorMatrix: o.video.colorMatrix };
  const batchSize = o.fixedBatch ?? o.batchSize;
  // yuv420p end to end: neither ffmpeg converts colours; frames without a face go out as decoded.
  // Shared memory: the frame-ops thread crops and pastes the frames where they are.
  const pool = new FramePool(frameBytes("yuv420p", format.width, format.height), framesInFlight(batchSize), {
    shared: true,
  });
  const busy: Record<FrameStage, number> = { decode: 0, preprocess: 0, inference: 0, paste: 0, encode: 0 };
  // A failing stage stops the others: their ffmpeg processes and pool waits end with it.
  const stop = new AbortController();
  const onAbort = () => stop.abort(o.signal.reason);
  o.signal.addEventListener("abort", onAbort, { once: true });
  const signal = stop.signal;
  const now = () => performance.now() / 1000;
  const decodeStats = { decoded: 0 };

  async function* decode(): AsyncGenerator<{ frame: Uint8Array; source: number }> {
    const frames = timelineFrames({
      file: o.videoFile,
      label: o.videoLabel,
      video: o.video,
      format: "yuv420p",
      ...o.timeline,
      pool,
      codecs: o.codecs,
      clips: o.clips,
      signal,
      stats: decodeStats,
    });
    for (;;) {
      const started = now();
      const next = await frames.next();
      busy.decode += now() - started; // includes waiting for a free buffer: the pool is the bound
      if (next.done) return;
      yield next.value;
    }
  }

  const newBatch = (): Batch => ({
    frames: [],
    boxed: { frames: [], rects: [], format, order: o.order },
    faces: takeArrays(batchSize),
  });

  async function* preprocess(frames: AsyncIterable<{ frame: Uint8Array; source: number }>): AsyncGenerator<Batch> {
    // Frames with a face get their mel window as they come and are cropped a batch at a
    // time (one request to the frame-ops thread).
    const full = async (batch: Batch) => {
      const started = now();
      if (batch.boxed.frames.length > 0) await o.ops.cropAll(batch.boxed, batch.faces.face);
      busy.preprocess += now() - started;
      return batch;
    };
    let batch = newBatch();
    let index = o.timeline.range?.start ?? 0;
    for await (const { frame: data, source } of frames) {
      const started = now();
      const rect = o.rectOf(source);
      if (rect) {
        const { faces } = batch;
        const slot = faces.count++;
        batch.boxed.frames.push(data);
        batch.boxed.rects.push(rect);
        melWindow(o.mel, index, o.video.fps, faces.mel.subarray(slot * MEL_FLOATS, (slot + 1) * MEL_FLOATS));
      }
      batch.frames.push({ index, data, rect });
      index++;
      busy.preprocess += now() - started;
      // Full at batchSize frames (so at most batchSize faces): a long stretch without faces
      // must not hold more frames than the pool has.
      if (batch.frames.length === batchSize) {
        yield await full(batch);
        batch = newBatch();
      }
    }
    if (batch.frames.length > 0) yield await full(batch);
  }

  const card = new CardHold(o.cardLock);
  async function* infer(batches: AsyncIterable<Batch>): AsyncGenerator<Batch> {
    try {
      for await (const batch of batches) {
        const { faces } = batch;
        if (faces.count > 0) {
          await card.take();
          if (o.fixedBatch !== undefined) padBatch(faces, o.fixedBatch);
          else if (faces.count < batchSize) trimBatch(faces);
          const result = await o.run(faces);
          busy.inference += result.runSeconds;
          batch.faces = result.batch;
        }
        yield batch;
      }
    } finally {
      card.letGo();
    }
  }

  async function* paste(batches: AsyncIterable<Batch>): AsyncGenerator<Frame> {
    for await (const batch of batches) {
      if (batch.boxed.frames.length > 0) {
        const started = now();
        await o.ops.pasteAll(batch.boxed, batch.faces.prediction);
        busy.paste += now() - started;
      }
      yield* batch.frames;
      giveArrays(batchSize, batch.faces);
    }
  }

  const encoder: Encoder = startEncoder({
    width: format.width,
    height: format.height,
    fps: o.video.fps,
    colorMatrix: format.colorMatrix,
    audioFile: o.audioFile,
    length: o.timeline.frames === "clip" ? "video" : "audio",
    videoSeconds: o.timeline.frames === "clip" ? o.video.frames / o.video.fps : undefined,
    outFile: o.outFile,
    posterFile: o.posterFile,
    lossless: o.lossless,
    encoder: o.codecs.encoder,
    device: o.codecs.device,
    signal,
  });
  try {
    const pasted = paste(ahead(infer(ahead(preprocess(ahead(decode(), FRAME_QUEUE)), 1)), 1));
    const written = await encodeFrames({
      frames: pasted,
      bytesOf: (frame) => frame.data,
      encoder,
      pool,
      stop,
      batchSize,
      videoLabel: o.videoLabel,
      busy,
      onProgress: o.onProgress,
    });
    return { frames: written, decodedFrames: decodeStats.decoded, busy, cardSpan: card.span };
  } finally {
    o.signal.removeEventListener("abort", onAbort);
  }
}

/** Fills a fixed-batch model's unused slots with the last face (its output is dropped). */
function padBatch(faces: FaceBatch, fixed: number): void {
  for (let slot = faces.count; slot < fixed; slot++) {
    faces.face.copyWithin(slot * FACE_FLOATS, (faces.count - 1) * FACE_FLOATS, faces.count * FACE_FLOATS);
    faces.mel.copyWithin(slot * MEL_FLOATS, (faces.count - 1) * MEL_FLOATS, faces.count * MEL_FLOATS);
  }
}

/** A short last batch: the model gets exactly `count` faces (views of the batch's shared arrays). */
function trimBatch(faces: FaceBatch): void {
  faces.face = faces.face.subarray(0, faces.count * FACE_FLOATS);
  faces.mel = faces.mel.subarray(0, faces.count * MEL_FLOATS);
  faces.prediction = faces.prediction.subarray(0, faces.count * PREDICTION_FLOATS);
}

/**
 * Batch float arrays (5 MB at 16 faces) no batch is using, by batch size, kept by the process
 * across batches and jobs: they are shared with the frame-ops and inference threads, which
 * write the crops and the prediction, and a new SharedArrayBuffer is zeroed page by page
 * (per job, ~50 ms of a 10-frame item's main thread on the reference machine; per batch,
 * garbage collection). At most a few batches are in flight per job.
 */
const spareArrays = new Map<number, FaceBatch[]>();
const MAX_SPARE_BATCHES = 8;
const floats = (n: number) => new Float32Array(new SharedArrayBuffer(n * Float32Array.BYTES_PER_ELEMENT));

function takeArrays(batchSize: number): FaceBatch {
  const faces = spareArrays.get(batchSize)?.pop() ?? {
    face: floats(batchSize * FACE_FLOATS),
    mel: floats(batchSize * MEL_FLOATS),
    prediction: floats(batchSize * PREDICTION_FLOATS),
    count: 0,
  };
  faces.count = 0;
  return faces;
}

/** A pasted batch's arrays back to the spares, whole again if the batch was trimmed. */
function giveArrays(batchSize: number, faces: FaceBatch): void {
  const whole = (a: Float32Array) => new Float32Array(a.buffer);
  const spare = { face: whole(faces.face), mel: whole(faces.mel), prediction: whole(faces.prediction), count: 0 };
  if (spare.face.length !== batchSize * FACE_FLOATS || spare.prediction.length !== batchSize * PREDICTION_FLOATS)
    return;
  const list = spareArrays.get(batchSize) ?? [];
  spareArrays.set(batchSize, list);
  if (list.length < MAX_SPARE_BATCHES) list.push(spare);
}
