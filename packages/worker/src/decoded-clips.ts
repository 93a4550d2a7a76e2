import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { PIPELINE_VERSION } from "@mediaq/shared";
import type { FramePool } from "./frames/frame-pool.ts";
// Partial recordings share the input cache's prefix: its sweep removes those a dead worker left.
import { inputsRoot, PARTIAL } from "./input-cache.ts";
import type { Decode, FrameRange } from "./media/decode.ts";

/** Clips remembered as decoded once: a name each. */
const MAX_REMEMBERED = 4096;

/**
 * A worker's decoded frames of short clips, beside its inputs (docs/architecture.md#probes-audio-and-decoded-clips):
 * lip-sync batches put one clip under many audios, and decoding a clip again costs an ffmpeg
 * process (~0.2 s of CPU for a 10-frame clip on the reference machine) where reading its raw
 * frames back costs a file read. The second whole decode from the start of a clip whose raw
 * frames take at most `maxClipBytes` is recorded as it is consumed and kept once it completed
 * (a clip decoded once, as in a batch of one clip per item, writes nothing); later decodes
 * of the clip (any range: frame i sits at i frame sizes) read the recording. The input
 * cache's sweep trims recordings with the inputs, least recently used first.
 */
export class DecodedClips {
  private readonly root: string;
  private readonly maxClipBytes: number;
  /** Clips decoded whole once, not yet recorded (most recent last; a bounded memory). */
  private readonly decodedOnce = new Set<string>();

  /** `maxClipBytes` 0: nothing is recorded. */
  constructor(cacheRoot: string, maxClipBytes: number) {
    this.root = inputsRoot(cacheRoot);
    this.maxClipBytes = maxClipBytes;
  }

  /**
   * `decode`, served from blob `blob`'s recording when there is one; a whole decode of a clip
   * of `frames` frames of `frameBytes` that fits is recorded. `variant` names what else makes
   * the frames (pixel format, decoder).
   */
  wrap(
    clip: { blob: string; variant: string; frames: number; frameBytes: number },
    decode: Decode,
    signal?: AbortSignal,
  ): Decode {
    const file = path.join(this.root, `${clip.blob}.${clip.variant}.v${PIPELINE_VERSION}.frames`);
    const fits = this.maxClipBytes > 0 && clip.frames * clip.frameBytes <= this.maxClipBytes;
    const root = this.root;
    const seenBefore = () => {
      const seen = this.decodedOnce.delete(file);
      this.decodedOnce.add(file);
      for (const oldest of this.decodedOnce) {
        if (this.decodedOnce.size <= MAX_REMEMBERED) break;
        this.decodedOnce.delete(oldest);
      }
      return seen;
    };
    return async function* (pool, range) {
      const recorded = await fs.promises.open(file, "r").catch(() => undefined);
      if (recorded) {
        const now = new Date();
        await fs.promises.utimes(file, now, now).catch(() => {}); // the sweep's order: last use
        yield* readRecording(recorded, pool, range, signal);
      } else if (!fits || range || !seenBefore()) yield* decode(pool, range);
      else yield* recordWhole(decode(pool), root, file);
    };
  }
}

/** Frames [start, start + count) of a recording (fewer where it ends), into buffers of `pool`. */
async function* readRecording(
  handle: fs.promises.FileHandle,
  pool: FramePool,
  range?: FrameRange,
  signal?: AbortSignal,
): AsyncGenerator<Uint8Array> {
  const bytes = pool.frameBytes;
  let frame: Uint8Array | undefined;
  try {
    const end = range ? range.start + range.count : Number.POSITIVE_INFINITY;
    for (let i = range?.start ?? 0; i < end; i++) {
      frame = await pool.acquire(signal);
      const { bytesRead } = await handle.read(frame, 0, bytes, i * bytes);
      if (bytesRead < bytes) break;
      const full = frame;
      frame = undefined;
      yield full;
    }
  } finally {
    if (frame) pool.release(frame);
    await handle.close();
  }
}

/**
 * Yields `frames` unchanged, writing each to a partial file before its consumer draws on it;
 * the file becomes `file` only when the decode ended by itself (a stopped or failed one is
 * dropped). A write that fails (disk full) drops the recording, never the decode.
 */
async function* recordWhole(
  frames: AsyncGenerator<Uint8Array>,
  root: string,
  file: string,
): AsyncGenerator<Uint8Array> {
  const partial = path.join(root, `${PARTIAL}${path.basename(file)}-${randomBytes(4).toString("hex")}`);
  let fd = await fs.promises
    .mkdir(root, { recursive: true })
    .then(() => fs.openSync(partial, "w"))
    .catch(() => undefined);
  let complete = false;
  try {
    for await (const frame of frames) {
      if (fd !== undefined)
        try {
          // Synchronous: the consumer draws into this buffer once it is yielded.
          for (let at = 0; at < frame.byteLength; ) at += fs.writeSync(fd, frame, at);
        } catch {
          fs.closeSync(fd);
          fd = undefined;
        }
      yield frame;
    }
    complete = true;
  } finally {
    if (fd !== undefined) {
      fs.closeSync(fd);
      if (complete) await fs.promises.rename(partial, file).catch(() => {});
    }
    await fs.promises.rm(partial, { force: true });
  }
}
