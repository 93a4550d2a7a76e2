/**
 * The encode stage both frame paths end in, the lip-sync one (frame-path.ts) and the face-swap
 * one (adapters/inswapper/swap-path.ts): docs/architecture.md#frame-path.
 */
import { BadInputError } from "../errors.ts";
import type { Encoder } from "../media/encode.ts";
import type { FramePool } from "./frame-pool.ts";

/** Frame writes in flight to the encoder's pipe, and decoded frames queued for the next stage. */
export const FRAME_QUEUE = 4;

/** Frames a job keeps in flight at most: three batches (preprocessing, running, pasting) plus the queues. */
export const framesInFlight = (batchSize: number) => 3 * batchSize + 2 * FRAME_QUEUE;

export interface EncodeFramesOptions<F> {
  /** The pasted frames, in output order. */
  frames: AsyncIterable<F>;
  /** A frame's pool buffer. */
  bytesOf(frame: F): Uint8Array;
  encoder: Encoder;
  pool: FramePool;
  /** The path's stop: a failure here stops the other stages (their ffmpeg processes and pool waits). */
  stop: AbortController;
  /** Progress is reported every batchSize frames written, and once at the end. */
  batchSize: number;
  videoLabel: string;
  /** Seconds the encoder was busy are added to `busy.encode`. */
  busy: { encode: number };
  onProgress(framesDone: number): void;
}

/**
 * Writes the frames to the encoder and finishes it; resolves with the frames written. Up to
 * FRAME_QUEUE writes in flight; a frame goes back to the pool once the pipe has taken it.
 * Encode is busy while any write is pending. On failure the path stops and the encoder is killed.
 */
export async function encodeFrames<F>(o: EncodeFramesOptions<F>): Promise<number> {
  const { encoder, pool, busy } = o;
  const signal = o.stop.signal;
  const now = () => performance.now() / 1000;
  let written = 0;
  try {
    const inFlight: Promise<void>[] = [];
    let pendingSince = 0;
    const track = (write: Promise<void>, frame: Uint8Array) => {
      if (inFlight.length === 0) pendingSince = now();
      const settled = write.then(() => {
        pool.release(frame);
        inFlight.splice(inFlight.indexOf(settled), 1);
        if (inFlight.length === 0) busy.encode += now() - pendingSince;
        written++;
        if (written % o.batchSize === 0) o.onProgress(written);
      });
      settled.catch(() => {}); // awaited below; a failed write must not go unhandled meanwhile
      inFlight.push(settled);
    };
    for await (const frame of o.frames) {
      if (inFlight.length >= FRAME_QUEUE) await Promise.race(inFlight);
      const bytes = o.bytesOf(frame);
      track(encoder.write(bytes), bytes);
    }
    await Promise.all(inFlight);
    if (signal.aborted) throw signal.reason;
    if (written === 0) throw new BadInputError(`${o.videoLabel} decoded to zero frames`);
    const started = now();
    await encoder.finish();
    busy.encode += now() - started;
    o.onProgress(written);
    return written;
  } catch (err) {
    o.stop.abort(err);
    encoder.kill();
    throw err;
  }
}
