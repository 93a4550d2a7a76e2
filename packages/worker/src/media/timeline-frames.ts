import { BadInputError } from "../errors.ts";
import { decodeFrames } from "./decode.ts";
import type { VideoInfo } from "./probe.ts";
import { type LoopMode, passes } from "./timeline.ts";

export interface TimelineFrame {
  /** rgb24, width*height*3 bytes (upright). */
  frame: Buffer;
  /** The source frame it shows (selects its face box). */
  source: number;
}

export interface TimelineOptions {
  file: string;
  label: string;
  video: VideoInfo;
  /** Output frames; "clip" = one forward pass over the clip, however many frames it has. */
  frames: number | "clip";
  loop: LoopMode;
  /** Decoded frames held at most to play a pass backwards (at least one frame). */
  bufferBytes: number;
  signal?: AbortSignal;
}

/**
 * Decodes the frames of the output timeline (see timeline.ts), in output order. The first
 * pass decodes the clip from the start and counts its frames (the probed count may be an
 * estimate); later forward passes decode it again; a backward pass decodes it in chunks of
 * at most `bufferBytes` from its end towards its start (accurate seeks) and yields each
 * chunk reversed. Memory is bounded by one chunk plus ffmpeg's pipe, whatever the clip's
 * and the output's length; no frame touches the disk.
 */
export async function* timelineFrames(o: TimelineOptions): AsyncGenerator<TimelineFrame> {
  const total = o.frames === "clip" ? Number.POSITIVE_INFINITY : o.frames;
  let out = 0;
  let n = 0;
  for await (const frame of decodeFrames(o.file, o.label, o.video, o.signal)) {
    if (out >= total) break;
    yield { frame, source: n++ };
    out++;
  }
  if (n === 0) throw new BadInputError(`${o.label} decoded to zero frames`);
  if (o.frames === "clip" || out >= total) return;
  const chunkFrames = Math.max(1, Math.floor(o.bufferBytes / (o.video.width * o.video.height * 3)));
  const all = passes(n, o.loop);
  all.next(); // the first forward pass, done above
  for (const pass of all) {
    const count = Math.min(pass.count, total - out);
    if (pass.step === 1) {
      let source = pass.first;
      for await (const frame of decodeFrames(o.file, o.label, o.video, o.signal, { start: pass.first, count }))
        yield { frame, source: source++ };
      if (source !== pass.first + count) throw lostFrames(o.label, pass.first, count, source - pass.first);
    } else {
      // Backwards: chunks [lo, hi] from the pass's first (highest) frame down.
      const last = pass.first - count + 1;
      for (let hi = pass.first; hi >= last; ) {
        const lo = Math.max(last, hi - chunkFrames + 1);
        const chunk: Buffer[] = [];
        for await (const frame of decodeFrames(o.file, o.label, o.video, o.signal, { start: lo, count: hi - lo + 1 }))
          chunk.push(frame);
        if (chunk.length !== hi - lo + 1) throw lostFrames(o.label, lo, hi - lo + 1, chunk.length);
        for (let i = chunk.length - 1; i >= 0; i--) yield { frame: chunk[i] as Buffer, source: lo + i };
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
