import { PassThrough } from "node:stream";
import ffmpeg from "fluent-ffmpeg";
import { BadInputError } from "../errors.ts";
import type { FramePool } from "../frames/frame-pool.ts";
import { type Codecs, decoderInputArgs } from "./codecs.ts";
import { FrameFifo } from "./frame-fifo.ts";
import type { VideoInfo } from "./probe.ts";
import { readWavAtRate } from "./wav-audio.ts";
import { uprightFilter } from "./rotation.ts";
import { frameBytes as bytesOf, type PixelFormat } from "./yuv.ts";

/** Runs ffmpeg with its output on a pipe; an ffmpeg failure (or an abort) errors the stream. */
function ffmpegPipe(command: ffmpeg.FfmpegCommand, label: string, signal?: AbortSignal): PassThrough {
  const out = new PassThrough({ highWaterMark: 4 * 1024 * 1024 });
  watchFfmpeg(command, label, signal, (reason) => out.destroy(reason));
  command.pipe(out, { end: true });
  return out;
}

/** Runs ffmpeg writing to `file`; settles at its exit, rejecting as ffmpegPipe errors its stream. */
function ffmpegToFile(command: ffmpeg.FfmpegCommand, file: string, label: string, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    watchFfmpeg(command, label, signal, reject, resolve);
    command.save(file);
  });
}

/** Kills ffmpeg on abort; reports its failure as BadInputError (its last error line) or AbortError. */
function watchFfmpeg(
  command: ffmpeg.FfmpegCommand,
  label: string,
  signal: AbortSignal | undefined,
  onError: (reason: Error) => void,
  onEnd?: () => void,
): void {
  const onAbort = () => command.kill("SIGKILL");
  signal?.addEventListener("abort", onAbort, { once: true });
  command
    .on("error", (err: Error, _stdout: string | null, stderr: string | null) => {
      signal?.removeEventListener("abort", onAbort);
      onError(
        signal?.aborted
          ? Object.assign(new Error("aborted"), { name: "AbortError" })
          : new BadInputError(`${label} could not be decoded (ffmpeg: ${lastLine(stderr) || err.message})`),
      );
    })
    .on("end", () => {
      signal?.removeEventListener("abort", onAbort);
      onEnd?.();
    });
}

/** The last error line; with `-loglevel level+verbose` (a decode that counts its frames) the others are chatter. */
function lastLine(text: string | null | undefined): string {
  const lines = (text ?? "").split("\n").filter((l) => l.trim());
  const tagged = lines.filter((l) => /\[(error|fatal|panic)\] /.test(l));
  const line = tagged.length > 0 ? (tagged[tagged.length - 1] as string) : (lines[lines.length - 1] ?? "");
  return line.replace(/^.*\[(error|fatal|panic)\] /, "").trim();
}

/** ffmpeg's own count of the frames it decoded, from its verbose end-of-run statistics. */
const DECODED = /Input stream #\d+:\d+ \(video\): \d+ packets read \(\d+ bytes\); (\d+) frames decoded/;

/**
 * Decodes an audio file to 16 kHz mono float samples (its whole length, or `part` of it): a
 * PCM WAV already at 16 kHz is read in this process (media/wav-audio.ts), anything else by ffmpeg.
 */
export async function decodeAudio(
  file: string,
  label: string,
  signal?: AbortSignal,
  part?: { seekSeconds: number; seconds: number },
): Promise<Float32Array> {
  const window = part && {
    from: part.seekSeconds * AUDIO_RATE,
    to: Math.round((part.seekSeconds + part.seconds) * AUDIO_RATE),
  };
  const read = await readWavAtRate(file, AUDIO_RATE, window);
  if (signal?.aborted) throw signal.reason;
  if (read) return read;
  const input = ["-nostdin", ...(part && part.seekSeconds > 0 ? ["-ss", String(part.seekSeconds)] : [])];
  const command = ffmpeg(file)
    .inputOptions(input)
    .noVideo()
    .audioChannels(1)
    .audioFrequency(AUDIO_RATE)
    .format("f32le")
    .outputOptions(["-c:a pcm_f32le", ...(part ? [`-t ${part.seconds}`] : [])]);
  const chunks: Buffer[] = [];
  for await (const chunk of ffmpegPipe(command, label, signal)) chunks.push(chunk as Buffer);
  // A killed ffmpeg may close its output before its exit is seen: short output, not silence.
  if (signal?.aborted) throw signal.reason;
  const bytes = Buffer.concat(chunks);
  return new Float32Array(bytes.buffer, bytes.byteOffset, Math.floor(bytes.length / 4));
}

export const AUDIO_RATE = 16_000;

/** Samples [from, to) of an audio's 16 kHz decode, and whether they could be sought to. */
export interface AudioWindow {
  from: number;
  to: number;
  /**
   * PCM (WAV): decoded from a whole second before `from` (input seeking), which gives the
   * same samples as a decode from 0 once the resampler has settled (a few hundred samples).
   * A compressed codec decodes from 0 (its seek is not sample-exact), only up to `to`.
   */
  seekable: boolean;
}

/** Whole seconds decoded on either side of a window: the resampler's start and end stay outside it. */
const WINDOW_MARGIN_SECONDS = 1;

/**
 * The samples [from, to) of decodeAudio's output without decoding the rest of the audio
 * (see AudioWindow): exactly what decodeAudio(file).subarray(from, to) holds, shorter when
 * the audio ends first.
 */
export async function decodeAudioWindow(
  file: string,
  label: string,
  w: AudioWindow,
  signal?: AbortSignal,
): Promise<Float32Array> {
  const seekSeconds = w.seekable ? Math.max(0, Math.floor(w.from / AUDIO_RATE) - WINDOW_MARGIN_SECONDS) : 0;
  const untilSeconds = Math.ceil(w.to / AUDIO_RATE) + WINDOW_MARGIN_SECONDS;
  const decoded = await decodeAudio(file, label, signal, { seekSeconds, seconds: untilSeconds - seekSeconds });
  const offset = seekSeconds * AUDIO_RATE;
  return decoded.slice(Math.min(decoded.length, w.from - offset), Math.min(decoded.length, w.to - offset));
}

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

/** A decode of a clip's frames: `range` of them (all without one), into buffers of `pool`. */
export type Decode = (pool: FramePool, range?: FrameRange) => AsyncGenerator<Uint8Array>;

/** Frames the decoder decoded, summed over decodes (a seek decodes from the keyframe before its range). */
export interface DecodeStats {
  decoded: number;
}

/**
 * Decodes the video's frames as raw `format` (yuv420p, limited range: the frame path; rgb24:
 * the face detector) at a constant `video.fps` (no frame files on disk), turned upright by
 * `video.rotation` (ffmpeg's own autorotation is off, so probe and decode agree whatever the
 * ffmpeg version), straight into buffers of `pool`: ffmpeg writes to a FIFO that is read with
 * fs.read into the pool's buffers, so no Buffer is allocated per pipe chunk
 * (docs/architecture.md#frame-path). Yields each filled frame; its consumer gives it back to
 * the pool. A range seeks accurately: ffmpeg seeks its input to the keyframe before a point a
 * quarter frame before frame `start` and drops the frames that precede that point, so on a
 * constant-frame-rate source it yields the same frames as a decode from 0, having decoded
 * at most one keyframe interval (GOP) before the range. With `stats`, ffmpeg's count of the
 * frames it decoded is added to it. Stopping early (break) kills ffmpeg.
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
  stats?: DecodeStats,
): AsyncGenerator<Uint8Array> {
  const frameBytes = bytesOf(format, video.width, video.height);
  if (pool.frameBytes !== frameBytes)
    throw new Error(`frame pool holds ${pool.frameBytes}-byte frames, not ${frameBytes}`);
  const input = ["-nostdin", "-noautorotate", ...decoderInputArgs(codecs)];
  if (stats) input.push("-loglevel", "level+verbose");
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
  // Stopping early aborts this decode alone; the job's signal aborts it too.
  const stop = new AbortController();
  const onAbort = () => stop.abort(signal?.reason);
  signal?.addEventListener("abort", onAbort, { once: true });
  const fifo = await FrameFifo.open();
  let frame: Uint8Array | undefined;
  try {
    const command = ffmpeg(file).inputOptions(input).noAudio().outputOptions(output).format("rawvideo");
    if (stats)
      command.on("stderr", (line: string) => {
        const decoded = DECODED.exec(line);
        if (decoded) stats.decoded += Number(decoded[1]);
      });
    const exited = ffmpegToFile(command, fifo.path, label, stop.signal);
    // The FIFO's end is ffmpeg's exit: only then does the read see end of file.
    exited.then(fifo.writerDone, fifo.writerDone);
    exited.catch(() => {}); // awaited below once the FIFO ends
    // A frame's first byte is read before a buffer is taken: the consumer may hold every
    // buffer until the decode ends (a backward chunk), so the end must be seen without one.
    const first = new Uint8Array(1);
    for (;;) {
      if ((await fifo.readInto(first, 1)) === 0) {
        await exited;
        if (signal?.aborted) throw signal.reason;
        break;
      }
      frame = await pool.acquire(stop.signal);
      frame[0] = first[0] as number;
      const filled = 1 + (await fifo.readInto(frame.subarray(1), frameBytes - 1));
      if (filled < frameBytes) {
        await exited; // ffmpeg's failure (its last stderr line) or the abort
        if (signal?.aborted) throw signal.reason;
        throw new BadInputError(`${label} ended inside a frame (${filled} stray bytes)`);
      }
      const full = frame;
      frame = undefined;
      yield full;
    }
  } finally {
    if (frame) pool.release(frame);
    signal?.removeEventListener("abort", onAbort);
    if (!stop.signal.aborted) stop.abort(); // kills an ffmpeg still running (no-op once it ended)
    await fifo.close();
  }
}
