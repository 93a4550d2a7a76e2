import { PassThrough } from "node:stream";
import ffmpeg from "fluent-ffmpeg";
import { BadInputError } from "../errors.ts";
import type { FramePool } from "../frames/frame-pool.ts";
import { type Codecs, decoderInputArgs } from "./codecs.ts";
import type { VideoInfo } from "./probe.ts";
import { uprightFilter } from "./rotation.ts";
import { frameBytes as bytesOf, type PixelFormat } from "./yuv.ts";

/** Runs ffmpeg with its output on a pipe; an ffmpeg failure (or an abort) errors the stream. */
function ffmpegPipe(command: ffmpeg.FfmpegCommand, label: string, signal?: AbortSignal): PassThrough {
  const out = new PassThrough({ highWaterMark: 4 * 1024 * 1024 });
  const onAbort = () => command.kill("SIGKILL");
  signal?.addEventListener("abort", onAbort, { once: true });
  command
    .on("error", (err: Error, _stdout: string | null, stderr: string | null) => {
      signal?.removeEventListener("abort", onAbort);
      const reason = signal?.aborted
        ? Object.assign(new Error("aborted"), { name: "AbortError" })
        : new BadInputError(`${label} could not be decoded (ffmpeg: ${lastLine(stderr) || err.message})`);
      out.destroy(reason);
    })
    .on("end", () => signal?.removeEventListener("abort", onAbort))
    .pipe(out, { end: true });
  return out;
}

function lastLine(text: string | null | undefined): string {
  const lines = (text ?? "").split("\n").filter((l) => l.trim());
  return (lines[lines.length - 1] ?? "").trim();
}

/** Decodes an audio file to 16 kHz mono float samples (its whole length). */
export async function decodeAudio(file: string, label: string, signal?: AbortSignal): Promise<Float32Array> {
  const command = ffmpeg(file)
    .inputOptions(["-nostdin"])
    .noVideo()
    .audioChannels(1)
    .audioFrequency(AUDIO_RATE)
    .format("f32le")
    .outputOptions(["-c:a pcm_f32le"]);
  const chunks: Buffer[] = [];
  for await (const chunk of ffmpegPipe(command, label, signal)) chunks.push(chunk as Buffer);
  // A killed ffmpeg may close its output before its exit is seen: short output, not silence.
  if (signal?.aborted) throw signal.reason;
  const bytes = Buffer.concat(chunks);
  return new Float32Array(bytes.buffer, bytes.byteOffset, Math.floor(bytes.length / 4));
}

export const AUDIO_RATE = 16_000;

/** The samples trimmed, or padded with silence, to exactly `seconds`. */
export function fitSamples(decoded: Float32Array, seconds: number): Float32Array {
  const wanted = Math.max(1, Math.round(seconds * AUDIO_RATE));
  const samples = new Float32Array(wanted); // zero = silence past the end
  samples.set(decoded.subarray(0, wanted));
  return samples;
}

/** A stretch of the video: `count` frames from frame `start` (as numbered by a decode from 0). */
export interface FrameRange {
  start: number;
  count: number;
}

/**
 * Decodes the video's frames as raw `format` (yuv420p, limited range: the frame path; rgb24:
 * the face detector) through a pipe at a constant `video.fps` (no frame
 * files on disk), turned upright by `video.rotation` (ffmpeg's own autorotation is off, so
 * probe and decode agree whatever the ffmpeg version), straight into buffers of `pool`: one
 * native copy from the pipe's chunks, no frame concatenated or allocated per frame. Yields
 * each filled frame; its consumer gives it back to the pool. A range seeks accurately: it
 * starts a quarter frame before frame `start` (ffmpeg drops what precedes the seek point), so
 * on a constant-frame-rate source it yields the same frames as a decode from 0. Stopping
 * early (break) kills ffmpeg.
 */
export async function* decodeFrames(
  file: string,
  label: string,
  video: VideoInfo,
  format: PixelFormat,
  pool: FramePool,
  codecs: Pick<Codecs, "decoder" | "device">,
  signal?: AbortSignal,
  range?: FrameRange,
): AsyncGenerator<Uint8Array> {
  const frameBytes = bytesOf(format, video.width, video.height);
  if (pool.frameBytes !== frameBytes)
    throw new Error(`frame pool holds ${pool.frameBytes}-byte frames, not ${frameBytes}`);
  const input = ["-nostdin", "-noautorotate", ...decoderInputArgs(codecs)];
  if (range && range.start > 0) input.push("-ss", ((range.start - 0.25) / video.fps).toFixed(6));
  const output = [`-pix_fmt ${format}`, `-r ${video.fps}`];
  // yuv420p frames stay in the source's matrix (the crop converts it) but in limited range.
  const filters = [
    uprightFilter(video.rotation),
    format === "yuv420p" && video.fullRange ? "scale=out_range=tv" : undefined,
  ];
  const vf = filters.filter(Boolean).join(",");
  if (vf) output.push(`-vf ${vf}`);
  if (range) output.push(`-frames:v ${range.count}`);
  const command = ffmpeg(file).inputOptions(input).noAudio().outputOptions(output).format("rawvideo");
  // Stopping early aborts this decode alone; the job's signal aborts it too.
  const stop = new AbortController();
  const onAbort = () => stop.abort(signal?.reason);
  signal?.addEventListener("abort", onAbort, { once: true });
  let frame: Uint8Array | undefined;
  let filled = 0;
  try {
    for await (const chunk of ffmpegPipe(command, label, stop.signal)) {
      const bytes = chunk as Buffer;
      let at = 0;
      while (at < bytes.length) {
        frame ??= await pool.acquire(stop.signal);
        const n = Math.min(frameBytes - filled, bytes.length - at);
        frame.set(bytes.subarray(at, at + n), filled);
        filled += n;
        at += n;
        if (filled === frameBytes) {
          const full = frame;
          frame = undefined;
          filled = 0;
          yield full;
        }
      }
    }
    // A killed ffmpeg may close its output mid-frame before its exit is seen: that is the abort.
    if (signal?.aborted) throw signal.reason;
    if (filled > 0) throw new BadInputError(`${label} ended inside a frame (${filled} stray bytes)`);
  } finally {
    if (frame) pool.release(frame);
    signal?.removeEventListener("abort", onAbort);
    if (!stop.signal.aborted) stop.abort(); // kills an ffmpeg still running (no-op once it ended)
  }
}
