import { once } from "node:events";
import { PassThrough } from "node:stream";
import ffmpeg from "fluent-ffmpeg";
import type { LengthMode } from "./timeline.ts";

export interface EncoderOptions {
  width: number;
  height: number;
  fps: number;
  /** The item's audio input, muxed into the output as is (re-encoded to AAC). */
  audioFile: string;
  /** What the output's length follows (see timeline.ts): the frames written cover the audio, or the audio is fitted to the frames. */
  length: LengthMode;
  outFile: string;
  signal?: AbortSignal;
}

export interface Encoder {
  /** Queues one rgb24 frame; resolves when ffmpeg can take more (backpressure). */
  write(frame: Buffer): Promise<void>;
  /** Closes the frame pipe and waits for ffmpeg to finish the file. */
  finish(): Promise<void>;
  /** Stops ffmpeg without finishing the file (the job failed). */
  kill(): void;
}

/**
 * Encodes raw rgb24 frames from a stdin pipe to H.264 (libx264, yuv420p) MP4 with the
 * item's audio. The frames are upright: the output carries no rotation. Length rule:
 * with length=audio the frames already span the audio (within half a frame) and both are
 * muxed whole; with length=video the output is exactly as long as the frames, the audio
 * padded with silence (apad) when shorter and cut by -shortest when longer.
 */
export function startEncoder(o: EncoderOptions): Encoder {
  const frames = new PassThrough({ highWaterMark: o.width * o.height * 3 * 4 });
  const command = ffmpeg()
    .input(frames)
    .inputFormat("rawvideo")
    .inputOptions(["-pix_fmt rgb24", `-video_size ${o.width}x${o.height}`, `-framerate ${o.fps}`])
    .input(o.audioFile)
    .outputOptions([
      "-map 0:v:0",
      "-map 1:a:0",
      "-c:v libx264",
      "-preset veryfast",
      "-crf 18",
      "-pix_fmt yuv420p",
      "-c:a aac",
      "-b:a 128k",
      ...(o.length === "video" ? ["-af apad", "-shortest"] : []),
      "-movflags +faststart",
    ])
    .format("mp4")
    .output(o.outFile);

  let failure: Error | undefined;
  let killed = false;
  const done = new Promise<void>((resolve, reject) => {
    command
      .on("end", () => resolve())
      .on("error", (err: Error, _stdout: string | null, stderr: string | null) => {
        const lines = (stderr ?? "").split("\n").filter((l) => l.trim());
        failure =
          killed || o.signal?.aborted
            ? Object.assign(new Error("aborted"), { name: "AbortError" })
            : new Error(`ffmpeg could not encode the output: ${lines[lines.length - 1] ?? err.message}`);
        frames.destroy();
        reject(failure);
      });
  });
  done.catch(() => {}); // surfaced by write()/finish()
  const onAbort = () => command.kill("SIGKILL");
  o.signal?.addEventListener("abort", onAbort, { once: true });
  command.run();

  return {
    async write(frame) {
      if (failure) throw failure;
      if (!frames.write(frame)) await Promise.race([once(frames, "drain"), done]);
      if (failure) throw failure;
    },
    async finish() {
      frames.end();
      try {
        await done;
      } finally {
        o.signal?.removeEventListener("abort", onAbort);
      }
    },
    kill() {
      o.signal?.removeEventListener("abort", onAbort);
      killed = true;
      command.kill("SIGKILL");
    },
  };
}
