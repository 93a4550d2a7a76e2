/**
 * The frame path of a face-swap item (docs/architecture.md#face-swap): decode -> aligned crop
 * -> swapper -> feathered paste -> encode, as concurrent stages joined by bounded queues over a
 * fixed pool of yuv420p frames in shared memory, like the lip-sync frame path
 * (frames/frame-path.ts). Frames without a face go out as decoded.
 */
import type { MutexInterface } from "async-mutex";
import { ahead } from "../../frames/ahead.ts";
import { CardHold } from "../../frames/card-hold.ts";
import { encodeFrames, FRAME_QUEUE, framesInFlight } from "../../frames/encode-frames.ts";
import type { ChannelOrder } from "../../frames/frame-ops.ts";
import { FramePool } from "../../frames/frame-pool.ts";
import type { Codecs } from "../../media/codecs.ts";
import { startEncoder } from "../../media/encode.ts";
import type { VideoInfo } from "../../media/probe.ts";
import { type TimelineOptions, timelineFrames } from "../../media/timeline-frames.ts";
import { frameBytes } from "../../media/yuv.ts";
import type { Affine } from "../arcface/alignment.ts";
import { SWAP_FLOATS, SWAP_SIZE } from "./signature.ts";
import type { AlignedFrames, AlignedOps } from "./warp-ops.ts";

export const SWAP_STAGES = ["decode", "crop", "inference", "paste", "encode"] as const;
export type SwapStage = (typeof SWAP_STAGES)[number];

export interface SwapPathOptions {
  videoFile: string;
  videoLabel: string;
  video: VideoInfo;
  /** The file whose first audio stream goes into the output (the video itself), or none. */
  audioFile?: string;
  outFile: string;
  /** Frame pixels -> the swapper's crop for source frame `n`; null passes the frame through. */
  transformOf(n: number): Affine | null;
  order: ChannelOrder;
  /** Frames per crop/run/paste round. */
  batchSize: number;
  ops: AlignedOps;
  /** The paste's feathered mask ([128,128], mask.ts). */
  mask: Float32Array;
  /**
   * Runs the swapper on `count` aligned faces ([count,3,128,128] in `faces`), writing its
   * outputs into `swapped`; resolves with the seconds spent in session.run.
   */
  run(faces: Float32Array, swapped: Float32Array, count: number): Promise<number>;
  /** The card: held from the first model call to the last. */
  cardLock: MutexInterface;
  codecs: Codecs;
  /** The worker's decoded clips and this clip's blob (decoded-clips.ts). */
  clips?: TimelineOptions["clips"];
  lossless?: boolean;
  signal: AbortSignal;
  onProgress(framesDone: number): void;
}

export interface SwapPathResult {
  frames: number;
  facesSwapped: number;
  busy: Record<SwapStage, number>;
  cardSpan?: [number, number];
}

interface Batch {
  frames: Uint8Array[];
  aligned: AlignedFrames;
  faces: Float32Array;
  swapped: Float32Array;
}

export async function runSwapPath(o: SwapPathOptions): Promise<SwapPathResult> {
  const format = { width: o.video.width, height: o.video.height, colorMatrix: o.video.colorMatrix };
  const pool = new FramePool(frameBytes("yuv420p", format.width, format.height), framesInFlight(o.batchSize), {
    shared: true,
  });
  const busy: Record<SwapStage, number> = { decode: 0, crop: 0, inference: 0, paste: 0, encode: 0 };
  const stop = new AbortController();
  const onAbort = () => stop.abort(o.signal.reason);
  o.signal.addEventListener("abort", onAbort, { once: true });
  const signal = stop.signal;
  const now = () => performance.now() / 1000;
  // A batch's crops and outputs are shared with the frame-ops and inference threads, and reused.
  const floats = () => new Float32Array(new SharedArrayBuffer(o.batchSize * SWAP_FLOATS * 4));
  const spare: { faces: Float32Array; swapped: Float32Array }[] = [];
  let facesSwapped = 0;

  async function* decode(): AsyncGenerator<{ frame: Uint8Array; source: number }> {
    const frames = timelineFrames({
      file: o.videoFile,
      label: o.videoLabel,
      video: o.video,
      format: "yuv420p",
      frames: "clip",
      loop: "forward",
      bufferBytes: 0,
      pool,
      codecs: o.codecs,
      clips: o.clips,
      signal,
    });
    for (;;) {
      const started = now();
      const next = await frames.next();
      busy.decode += now() - started;
      if (next.done) return;
      yield next.value;
    }
  }

  async function* crop(decoded: AsyncIterable<{ frame: Uint8Array; source: number }>): AsyncGenerator<Batch> {
    const newBatch = (): Batch => ({
      frames: [],
      aligned: { frames: [], transforms: [], format, order: o.order, size: SWAP_SIZE },
      ...(spare.pop() ?? { faces: floats(), swapped: floats() }),
    });
    const full = async (batch: Batch) => {
      const started = now();
      if (batch.aligned.frames.length > 0) await o.ops.cropAligned(batch.aligned, batch.faces);
      busy.crop += now() - started;
      return batch;
    };
    let batch = newBatch();
    for await (const { frame, source } of decoded) {
      const toCrop = o.transformOf(source);
      if (toCrop) {
        batch.aligned.frames.push(frame);
        batch.aligned.transforms.push(toCrop);
      }
      batch.frames.push(frame);
      if (batch.frames.length === o.batchSize) {
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
        const count = batch.aligned.frames.length;
        if (count > 0) {
          await card.take();
          busy.inference += await o.run(batch.faces, batch.swapped, count);
          facesSwapped += count;
        }
        yield batch;
      }
    } finally {
      card.letGo();
    }
  }

  async function* paste(batches: AsyncIterable<Batch>): AsyncGenerator<Uint8Array> {
    for await (const batch of batches) {
      if (batch.aligned.frames.length > 0) {
        const started = now();
        await o.ops.pasteAligned(batch.aligned, batch.swapped, o.mask);
        busy.paste += now() - started;
      }
      yield* batch.frames;
      spare.push({ faces: batch.faces, swapped: batch.swapped });
    }
  }

  const encoder = startEncoder({
    width: format.width,
    height: format.height,
    fps: o.video.fps,
    colorMatrix: format.colorMatrix,
    audioFile: o.audioFile,
    length: "video",
    outFile: o.outFile,
    lossless: o.lossless,
    encoder: o.codecs.encoder,
    device: o.codecs.device,
    signal,
  });
  try {
    const written = await encodeFrames({
      frames: paste(ahead(infer(ahead(crop(ahead(decode(), FRAME_QUEUE)), 1)), 1)),
      bytesOf: (frame) => frame,
      encoder,
      pool,
      stop,
      batchSize: o.batchSize,
      videoLabel: o.videoLabel,
      busy,
      onProgress: o.onProgress,
    });
    return { frames: written, facesSwapped, busy, cardSpan: card.span };
  } finally {
    o.signal.removeEventListener("abort", onAbort);
  }
}
