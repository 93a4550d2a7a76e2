import type { Writable } from "node:stream";
import ffmpeg from "fluent-ffmpeg";
import type { LengthMode } from "./timeline.ts";
import { type ColorMatrix, colorSpaceTag } from "./yuv.ts";

/** The H.264 encoders a worker can use (see media/codecs.ts for how one is chosen). */
export type VideoEncoderName = "libx264" | "h264_nvenc";

export interface EncoderOptions {
  width: number;
  height: number;
  fps: number;
  /** The matrix of the frames' yuv (their source's): the output is tagged with it. */
  colorMatrix: ColorMatrix;
  /** The item's audio input, muxed into the output (re-encoded to AAC); none: video only. */
  audioFile?: string;
  /** What the output's length follows (see timeline.ts): the frames written cover the audio, or the audio is fitted to the frames. */
  length: LengthMode;
  /** length=video: the frames' duration (frames / fps), where the audio is cut. */
  videoSeconds?: number;
  outFile: string;
  /**
   * A JPEG of the first frame, POSTER_WIDTH wide, written as a second output of the same
   * ffmpeg (no separate run over the finished file: docs/architecture.md#outputs).
   */
  posterFile?: string;
  encoder?: VideoEncoderName;
  /** Lossless (VIDEO_LOSSLESS): decoded frames equal the yuv420p frames given, bit for bit. */
  lossless?: boolean;
  /** The card NVENC runs on (GPU_DEVICE_ID). */
  device?: number;
  signal?: AbortSignal;
}

export interface Encoder {
  /**
   * Hands one yuv420p frame (limited range) to ffmpeg; resolves once the pipe has taken all its bytes, after
   * which the caller may reuse the buffer (frames are written without a copy).
   */
  write(frame: Uint8Array): Promise<void>;
  /** Closes the frame pipe and waits for ffmpeg to finish the file. */
  finish(): Promise<void>;
  /** Stops ffmpeg without finishing the file (the job failed). */
  kill(): void;
}

/**
 * ffmpeg output arguments after the inputs (0 = yuv420p frames, 1 = the item's audio). The two
 * encoders aim at the same quality (docs/architecture.md#hardware-codecs): libx264 constant
 * rate factor 18 at preset veryfast, NVENC constant quality 18 (VBR, no bitrate cap) at p4.
 */
export function encoderArgs(
  encoder: VideoEncoderName,
  length: LengthMode,
  device = 0,
  o: { audio?: boolean; lossless?: boolean; videoSeconds?: number } = {},
): string[] {
  const quality = o.lossless
    ? encoder === "h264_nvenc"
      ? ["-tune", "lossless"]
      : ["-qp", "0"]
    : encoder === "h264_nvenc"
      ? ["-rc", "vbr", "-cq", "18", "-b:v", "0"]
      : ["-crf", "18"];
  const video =
    encoder === "h264_nvenc"
      ? ["-c:v", "h264_nvenc", "-gpu", String(device), "-preset", "p4", ...quality]
      : ["-c:v", "libx264", "-preset", "veryfast", ...quality];
  const audio = o.audio ?? true;
  return [
    ...(audio ? ["-map", "0:v:0", "-map", "1:a:0"] : ["-map", "0:v:0"]),
    ...video,
    ...["-pix_fmt", "yuv420p"],
    ...(audio ? audioArgs(length, o.videoSeconds) : []),
    ...["-movflags", "+faststart", "-f", "mp4"],
  ];
}

/**
 * The item's audio as AAC; with length=video fitted to the frames: padded with silence and
 * cut at `videoSeconds` by the filter itself, to the sample. (`-shortest` stops at the muxer's
 * pace and overshot by ~0.26 s on a 10-minute item; it is only the fallback when the frames'
 * duration is not known.)
 */
export function audioArgs(length: LengthMode, videoSeconds?: number): string[] {
  const fit =
    length !== "video"
      ? []
      : videoSeconds === undefined
        ? ["-af", "apad", "-shortest"]
        : ["-af", `apad,atrim=end=${videoSeconds.toFixed(6)}`];
  return ["-c:a", "aac", "-b:a", "128k", ...fit];
}

/** Poster width in pixels: a thumbnail for the web page's item list (docs/architecture.md#outputs). */
export const POSTER_WIDTH = 320;

/** The poster output: the first frame, scaled from the frames' own matrix and range to a full-range JPEG. */
export function posterArgs(colorMatrix: ColorMatrix): string[] {
  return [
    ...["-map", "0:v:0", "-frames:v", "1", "-an"],
    ...["-vf", `scale=${POSTER_WIDTH}:-2:in_color_matrix=${colorMatrix}:in_range=tv:out_range=pc`],
    ...["-q:v", "4", "-f", "image2"],
  ];
}

/**
 * Encodes raw yuv420p frames from ffmpeg's stdin to H.264 MP4 with the item's audio (or none:
 * a segment's piece), as they are (no colour conversion), tagged with their colour matrix.
 * The frames are upright: the output carries no rotation. Length rule: with length=audio the
 * frames already span the audio (within half a frame) and both are muxed whole; with
 * length=video the output is exactly as long as the frames, the audio padded with silence
 * (apad) when shorter and cut by -shortest when longer.
 */
export function startEncoder(o: EncoderOptions): Encoder {
  const command = ffmpeg()
    .input("pipe:0")
    .inputFormat("rawvideo")
    .inputOptions(["-pix_fmt yuv420p", `-video_size ${o.width}x${o.height}`, `-framerate ${o.fps}`]);
  if (o.audioFile) command.input(o.audioFile);
  command
    .outputOptions([
      ...encoderArgs(o.encoder ?? "libx264", o.length, o.device, {
        audio: o.audioFile !== undefined,
        lossless: o.lossless,
        videoSeconds: o.videoSeconds,
      }),
      ...["-colorspace", colorSpaceTag(o.colorMatrix), "-color_range", "tv"],
    ])
    .output(o.outFile);
  if (o.posterFile) command.output(o.posterFile).outputOptions(posterArgs(o.colorMatrix));

  let failure: Error | undefined;
  let killed = false;
  // Frames go straight to ffmpeg's stdin, so a write's callback says when its buffer is free.
  const stdin = new Promise<Writable>((resolve) =>
    command.on("start", () => {
      const pipe = (command as unknown as { ffmpegProc: { stdin: Writable } }).ffmpegProc.stdin;
      pipe.on("error", () => {}); // EPIPE when ffmpeg failed: reported through `done`
      resolve(pipe);
    }),
  );
  const done = new Promise<void>((resolve, reject) => {
    command
      .on("end", () => resolve())
      .on("error", (err: Error, _stdout: string | null, stderr: string | null) => {
        const lines = (stderr ?? "").split("\n").filter((l) => l.trim());
        failure =
          killed || o.signal?.aborted
            ? Object.assign(new Error("aborted"), { name: "AbortError" })
            : new Error(`ffmpeg could not encode the output: ${lines[lines.length - 1] ?? err.message}`);
        reject(failure);
      });
  });
  done.catch(() => {}); // surfaced by write()/finish()
  const onAbort = () => command.kill("SIGKILL");
  o.signal?.addEventListener("abort", onAbort, { once: true });
  command.run();

  return {
    async write(frame) {
      const pipe = await Promise.race([stdin, done.then(() => undefined)]);
      if (failure || !pipe) throw failure ?? new Error("ffmpeg ended before all frames were written");
      await Promise.race([
        new Promise<void>((resolve, reject) => pipe.write(frame, (err) => (err ? reject(err) : resolve()))),
        done,
      ]).catch((err) => {
        throw failure ?? err;
      });
    },
    async finish() {
      try {
        const pipe = await Promise.race([stdin, done.then(() => undefined)]);
        pipe?.end();
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
