import { PassThrough } from "node:stream";
import ffmpeg from "fluent-ffmpeg";
import { BadInputError } from "../errors.ts";
import type { FramePool } from "../frames/frame-pool.ts";
import { type Codecs, decoderInputArgs } from "./codecs.ts";
import type { VideoInfo } from "./probe.ts";

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

/**
 * Decodes an audio file to 16 kHz mono float samples, then trims or pads it with silence
 * to `seconds` so that the audio features cover exactly the video's length.
 */
export async function decodeAudio(
  file: string,
  label: string,
  seconds: number,
  signal?: AbortSignal,
): Promise<Float32Array> {
  const command = ffmpeg(file)
    .inputOptions(["-nostdin"])
    .noVideo()
    .audioChannels(1)
    .audioFrequency(16_000)
    .format("f32le")
    .outputOptions(["-c:a pcm_f32le"]);
  const chunks: Buffer[] = [];
  for await (const chunk of ffmpegPipe(command, label, signal)) chunks.push(chunk as Buffer);
  // A killed ffmpeg may close its output before its exit is seen: short output, not silence.
  if (signal?.aborted) throw signal.reason;
  const bytes = Buffer.concat(chunks);
  const decoded = new Float32Array(bytes.buffer, bytes.byteOffset, Math.floor(bytes.length / 4));
  const wanted = Math.max(1, Math.round(seconds * 16_000));
  const samples = new Float32Array(wanted); // zero = silence past the end
  samples.set(decoded.subarray(0, wanted));
  return samples;
}

/**
 * Decodes the video's frames as raw rgb24 through a pipe at a constant `video.fps` (no frame
 * files on disk), straight into buffers of `pool`: one native copy from the pipe's chunks per
 * byte, and no frame is ever concatenated or allocated per frame. Yields each filled frame;
 * the consumer gives it back to the pool when done with it.
 */
export async function* decodeFrames(
  file: string,
  label: string,
  video: VideoInfo,
  pool: FramePool,
  codecs: Pick<Codecs, "decoder" | "device">,
  signal?: AbortSignal,
): AsyncGenerator<Uint8Array> {
  const frameBytes = video.width * video.height * 3;
  if (pool.frameBytes !== frameBytes)
    throw new Error(`frame pool holds ${pool.frameBytes}-byte frames, not ${frameBytes}`);
  const command = ffmpeg(file)
    .inputOptions(["-nostdin", ...decoderInputArgs(codecs)])
    .noAudio()
    .outputOptions(["-pix_fmt rgb24", `-r ${video.fps}`])
    .format("rawvideo");
  let frame: Uint8Array | undefined;
  let filled = 0;
  for await (const chunk of ffmpegPipe(command, label, signal)) {
    const bytes = chunk as Buffer;
    let at = 0;
    while (at < bytes.length) {
      frame ??= await pool.acquire(signal);
      const n = Math.min(frameBytes - filled, bytes.length - at);
      frame.set(bytes.subarray(at, at + n), filled);
      filled += n;
      at += n;
      if (filled === frameBytes) {
        yield frame;
        frame = undefined;
        filled = 0;
      }
    }
  }
  if (frame) pool.release(frame);
  // A killed ffmpeg may close its output mid-frame before its exit is seen: that is the abort.
  if (signal?.aborted) throw signal.reason;
  if (filled > 0) throw new BadInputError(`${label} ended inside a frame (${filled} stray bytes)`);
}
