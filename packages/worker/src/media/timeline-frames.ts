import { BadInputError } from "../errors.ts";
import { FramePool } from "../frames/frame-pool.ts";
import type { Codecs } from "./codecs.ts";
import type { DecodedClips } from "../decoded-clips.ts";
import { type Decode, type DecodeStats, decodeFrames } from "./decode.ts";
import type { VideoInfo } from "./probe.ts";
import { type LoopMode, type Pass, passes, sourceIndex } from "./timeline.ts";
import { frameBytes as bytesOf, type PixelFormat } from "./yuv.ts";

export interface TimelineFrame {
  /** In the options' `format` (upright), a buffer of the pool: its consumer releases it. */
  frame: Uint8Array;
  /** The source frame it shows (selects its face box). */
  source: number;
}

export interface TimelineOptions {
  file: string;
  label: string;
  video: VideoInfo;
  format: PixelFormat;
  /** Output frames; "clip" = one forward pass over the clip, however many frames it has. */
  frames: number | "clip";
  /**
   * Only output frames [start, start + count) are yielded (a segment of a long item), and
   * only what they show is decoded: each decode seeks to the keyframe before its frames.
   */
  range?: { start: number; count: number };
  /** Frames ffmpeg decoded, summed over this timeline's decodes. */
  stats?: DecodeStats;
  loop: LoopMode;
  /** Decoded frames held at most to play a pass backwards (at least one frame). */
  bufferBytes: number;
  /** The frame path's buffers (frames/frame-pool.ts): every yielded frame is one of them. */
  pool: FramePool;
  codecs: Pick<Codecs, "decoder" | "device">;
  /** The worker's decoded clips, and the clip's blob: a short clip is decoded once (decoded-clips.ts). */
  clips?: { cache: DecodedClips; blob: string };
  signal?: AbortSignal;
}

/**
 * Decodes the frames of the output timeline (see timeline.ts), in output order. The first
 * pass decodes the clip from the start and counts its frames (the probed count may be an
 * estimate). A clip that fits in `bufferBytes` is kept from that pass and every loop is
 * served from memory. A longer one is decoded again: forward passes from the start, and
 * backward passes in chunks of at most `bufferBytes` from its end towards its start
 * (accurate seeks), each chunk yielded reversed. Either way at most `bufferBytes` of frames
 * (at least one) plus ffmpeg's pipe are held, whatever the clip's and the output's length
 * (besides the pool); no frame touches the disk. A range that starts later seeks to it
 * instead (docs/architecture.md#segments).
 */
export async function* timelineFrames(o: TimelineOptions): AsyncGenerator<TimelineFrame> {
  const first = o.range?.start ?? 0;
  const total = Math.min(
    o.frames === "clip" ? Number.POSITIVE_INFINITY : o.frames,
    o.range ? o.range.start + o.range.count : Number.POSITIVE_INFINITY,
  );
  const frameBytes = bytesOf(o.format, o.video.width, o.video.height);
  const chunkFrames = Math.max(1, Math.floor(o.bufferBytes / frameBytes));
  const fresh: Decode = (pool, range) =>
    decodeFrames(o.file, o.label, o.video, o.format, pool, o.codecs, o.signal, range, o.stats);
  const variant = `${o.format}.${o.codecs.decoder}`;
  const decode = o.clips
    ? o.clips.cache.wrap({ blob: o.clips.blob, variant, frames: o.video.frames, frameBytes }, fresh, o.signal)
    : fresh;
  // Not even tried when the probe says the clip is bigger than the buffer.
  const mayHold = o.frames !== "clip" && o.video.frames <= chunkFrames;

  // A range that starts later (a segment) seeks instead of decoding the frames before it:
  // one pass over the clip seeks to its first frame (and stops after its last); a loop needs the clip's length first,
  // checked on the decoder at the probed count. A clip short enough to hold is decoded from
  // the start as below (that one pass serves every loop).
  if (o.range && (first > 0 || o.frames === "clip")) {
    if (o.frames === "clip") {
      let source = first;
      for await (const frame of decode(o.pool, { start: first, count: total - first }))
        yield { frame, source: source++ };
      return;
    }
    const n = mayHold ? undefined : await clipLength(o, decode);
    if (n !== undefined) {
      yield* passFrames(o, n, 0, first, total, chunkFrames, decode, passes(n, o.loop));
      return;
    }
  }

  // Copies of the first pass's frames while they fit (yielded frames are consumed in place).
  let held: Uint8Array[] | undefined = mayHold ? [] : undefined;
  let out = 0;
  let n = 0;
  for await (const frame of decode(o.pool)) {
    if (out >= total) {
      o.pool.release(frame);
      break;
    }
    if (held && held.length < chunkFrames) held.push(new Uint8Array(frame));
    else held = undefined;
    // Before the range: decoded to count the clip, not yielded.
    if (out < first) o.pool.release(frame);
    else yield { frame, source: n };
    n++;
    out++;
  }
  if (n === 0) throw new BadInputError(`${o.label} decoded to zero frames`);
  if (o.frames === "clip" || out >= total) return;
  if (held) {
    for (let i = Math.max(out, first); i < total; i++) {
      const source = sourceIndex(i, n, o.loop);
      yield { frame: await copy(o, held[source] as Uint8Array), source };
    }
    return;
  }
  const all = passes(n, o.loop);
  all.next(); // the first forward pass, done above
  yield* passFrames(o, n, out, first, total, chunkFrames, decode, all);
}

/** A pool buffer holding a copy of `bytes` (the consumer draws into it). */
async function copy(o: TimelineOptions, bytes: Uint8Array): Promise<Uint8Array> {
  const frame = await o.pool.acquire(o.signal);
  frame.set(bytes);
  return frame;
}

/**
 * The clip's frame count as a decode from 0 would find it, when the probed count is it: the
 * decoder, seeking, delivers frame count-1 and nothing after it. Undefined when it does not
 * (an estimated count): the clip is then counted by decoding it.
 */
async function clipLength(o: TimelineOptions, decode: Decode): Promise<number | undefined> {
  const n = o.video.frames;
  const pool = new FramePool(o.pool.frameBytes, 2);
  let got = 0;
  for await (const frame of decode(pool, { start: n - 1, count: 2 })) {
    pool.release(frame);
    got++;
  }
  return got === 1 ? n : undefined;
}

/**
 * The timeline's frames from output frame `out` on, pass by pass (`all`: the passes from
 * there): passes wholly before `first` are skipped without decoding, forward passes seek to
 * the frames they need, backward passes are decoded in chunks of at most `chunkFrames` from
 * their end towards their start (each chunk yielded reversed).
 */
async function* passFrames(
  o: TimelineOptions,
  n: number,
  out: number,
  first: number,
  total: number,
  chunkFrames: number,
  decode: Decode,
  all: Generator<Pass>,
): AsyncGenerator<TimelineFrame> {
  if (out >= total) return;
  // Backward chunks are decoded into buffers of their own, then copied out in reverse.
  const chunkPool = new FramePool(o.pool.frameBytes, Math.min(chunkFrames, n));
  for (const pass of all) {
    const count = Math.min(pass.count, total - out);
    // Frames of this pass before the range are skipped without decoding them.
    const skip = Math.min(count, Math.max(0, first - out));
    if (skip === count) {
      // the whole pass lies before the range
    } else if (pass.step === 1) {
      const from = pass.first + skip;
      let source = from;
      for await (const frame of decode(o.pool, { start: from, count: count - skip })) yield { frame, source: source++ };
      if (source !== pass.first + count) throw lostFrames(o.label, from, count - skip, source - from);
    } else {
      // Backwards: chunks [lo, hi] from the pass's first (highest) frame down.
      const last = pass.first - count + 1;
      for (let hi = pass.first - skip; hi >= last; ) {
        const lo = Math.max(last, hi - chunkFrames + 1);
        const chunk: Uint8Array[] = [];
        for await (const frame of decode(chunkPool, { start: lo, count: hi - lo + 1 })) chunk.push(frame);
        if (chunk.length !== hi - lo + 1) throw lostFrames(o.label, lo, hi - lo + 1, chunk.length);
        for (let frame = chunk.pop(); frame; frame = chunk.pop()) {
          const source = lo + chunk.length;
          const copied = await copy(o, frame);
          chunkPool.release(frame);
          yield { frame: copied, source };
        }
        hi = lo - 1;
      }
    }
    out += count;
    if (out >= total) return;
  }
}

/** A seek that delivers fewer frames than the first pass counted: the source is not seekable frame by frame. */
function lostFrames(label: string, start: number, wanted: number, got: number): Error {
  return new BadInputError(
    `${label} could not be decoded again from frame ${start} (${got} of ${wanted} frames); ` +
      "to loop it, re-encode it with a constant frame rate, or pass length=video",
  );
}
