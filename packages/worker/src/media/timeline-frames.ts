import { BadInputError } from "../errors.ts";
import { FramePool } from "../frames/frame-pool.ts";
import type { Codecs } from "./codecs.ts";
import { decodeFrames } from "./decode.ts";
import type { VideoInfo } from "./probe.ts";
import { type LoopMode, passes, sourceIndex } from "./timeline.ts";
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
   * Only output frames [start, start + count) are yielded (a segment of a long item). The
   * first pass is still decoded whole to count the clip; later passes decode only what
   * the range needs.
   */
  range?: { start: number; count: number };
  loop: LoopMode;
  /** Decoded frames held at most to play a pass backwards (at least one frame). */
  bufferBytes: number;
  /** The frame path's buffers (frames/frame-pool.ts): every yielded frame is one of them. */
  pool: FramePool;
  codecs: Pick<Codecs, "decoder" | "device">;
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
 * (besides the pool); no frame touches the disk.
 */
export async function* timelineFrames(o: TimelineOptions): AsyncGenerator<TimelineFrame> {
  const first = o.range?.start ?? 0;
  const total = Math.min(
    o.frames === "clip" ? Number.POSITIVE_INFINITY : o.frames,
    o.range ? o.range.start + o.range.count : Number.POSITIVE_INFINITY,
  );
  const frameBytes = bytesOf(o.format, o.video.width, o.video.height);
  const chunkFrames = Math.max(1, Math.floor(o.bufferBytes / frameBytes));
  // Copies of the first pass's frames while they fit (yielded frames are consumed in place);
  // not even tried when the probe says the clip is bigger than the buffer.
  let held: Uint8Array[] | undefined = o.frames !== "clip" && o.video.frames <= chunkFrames ? [] : undefined;
  let out = 0;
  let n = 0;
  const decode = (pool: FramePool, range?: { start: number; count: number }) =>
    decodeFrames(o.file, o.label, o.video, o.format, pool, o.codecs, o.signal, range);
  /** A pool buffer holding a copy of `bytes` (the consumer draws into it). */
  const copy = async (bytes: Uint8Array) => {
    const frame = await o.pool.acquire(o.signal);
    frame.set(bytes);
    return frame;
  };
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
      yield { frame: await copy(held[source] as Uint8Array), source };
    }
    return;
  }
  // Backward chunks are decoded into buffers of their own, then copied out in reverse.
  const chunkPool = new FramePool(frameBytes, chunkFrames);
  const all = passes(n, o.loop);
  all.next(); // the first forward pass, done above
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
          const out = await copy(frame);
          chunkPool.release(frame);
          yield { frame: out, source };
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
