import { PassThrough } from "node:stream";
import ffmpeg from "fluent-ffmpeg";
import { BadInputError } from "../errors.ts";
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
 * Decodes the video's frames as raw rgb24 through a pipe at a constant `video.fps`
 * (no frame files on disk). Yields one Buffer of width*height*3 bytes per frame.
 */
export async function* decodeFrames(
  file: string,
  label: string,
  video: VideoInfo,
  signal?: AbortSignal,
): AsyncGenerator<Buffer> {
  const frameBytes = video.width * video.height * 3;
  const command = ffmpeg(file)
    .inputOptions(["-nostdin"])
    .noAudio()
    .outputOptions(["-pix_fmt rgb24", `-r ${video.fps}`])
    .format("rawvideo");
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  for await (const chunk of ffmpegPipe(command, label, signal)) {
    pending.push(chunk as Buffer);
    pendingBytes += (chunk as Buffer).length;
    if (pendingBytes < frameBytes) continue;
    let joined = Buffer.concat(pending, pendingBytes);
    while (joined.length >= frameBytes) {
      yield Buffer.from(joined.subarray(0, frameBytes)); // a copy: the adapter draws into it
      joined = joined.subarray(frameBytes);
    }
    pending = joined.length > 0 ? [joined] : [];
    pendingBytes = joined.length;
  }
  // A killed ffmpeg may close its output mid-frame before its exit is seen: that is the abort.
  if (signal?.aborted) throw signal.reason;
  if (pendingBytes > 0) throw new BadInputError(`${label} ended inside a frame (${pendingBytes} stray bytes)`);
}
