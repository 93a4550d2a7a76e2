import { execFile } from "node:child_process";
import fs from "node:fs/promises";
import { promisify } from "node:util";
import type { FfprobeData } from "fluent-ffmpeg";
import { BadInputError } from "../errors.ts";
import { type QuarterTurn, readRotation } from "./rotation.ts";
import { type ColorMatrix, colorMatrixOf } from "./yuv.ts";

const run = promisify(execFile);

export interface VideoInfo {
  /** The displayed frame size: after `rotation`, as decoded frames and the output have it. */
  width: number;
  height: number;
  /** Clockwise quarter turn the decoder applies to the stored frames to show them upright. */
  rotation: QuarterTurn;
  fps: number;
  /** Frames the decoder will deliver at `fps` (from nb_frames, else duration * fps). */
  frames: number;
  duration: number;
  /** The YCbCr matrix of its pixels (media/yuv.ts). */
  colorMatrix: ColorMatrix;
  /** Full-range (0..255) pixels: the decoder brings them to limited range. */
  fullRange: boolean;
}

export interface AudioInfo {
  duration: number;
  sampleRate: number;
  /** ffprobe's codec name: pcm_* (WAV) decodes exactly from any point (media/decode.ts). */
  codec: string;
}

/** One stream as ffprobe's JSON gives it: what fluent-ffmpeg parses, plus the side data it drops. */
type ProbedStream = FfprobeData["streams"][number] & {
  side_data_list?: { side_data_type?: string; displaymatrix?: string }[];
};
export type Probed = Omit<FfprobeData, "streams"> & { streams: ProbedStream[] };

/**
 * One ffprobe run, as JSON: streams (with their side data: the display matrix, multi-line,
 * which fluent-ffmpeg's text parser drops but which tells a rotation from a mirror) and format.
 */
async function ffprobe(file: string): Promise<Probed> {
  const { stdout } = await run("ffprobe", ["-v", "error", "-show_streams", "-show_format", "-of", "json", file], {
    maxBuffer: 16 * 1024 * 1024,
  });
  const data = JSON.parse(stdout) as Partial<Probed>;
  return { streams: data.streams ?? [], format: data.format ?? {}, chapters: [] };
}

/** Probes a file, turning "empty" and "not media" into messages a person can act on. */
export async function probeFile(file: string, label: string): Promise<Probed> {
  const { size } = await fs.stat(file);
  if (size === 0) throw new BadInputError(`${label} is empty (0 bytes)`);
  try {
    return await ffprobe(file);
  } catch (err) {
    // The scratch path means nothing to the person reading this; the input's label says which file.
    const detail = lastLine(String((err as Error).message))
      .replaceAll(`${file}: `, "")
      .replaceAll(file, "the file");
    throw new BadInputError(
      `${label} is not a readable media file; truncated, corrupt or not audio/video? (ffprobe: ${detail})`,
    );
  }
}

function lastLine(text: string): string {
  const lines = text
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean);
  return lines[lines.length - 1] ?? "unknown error";
}

function rate(text: string | undefined): number {
  const [num, den] = (text ?? "").split("/").map(Number);
  if (!num || !den || !Number.isFinite(num / den)) return 0;
  return num / den;
}

const streamTypes = (data: Probed) => data.streams.map((s) => s.codec_type ?? "unknown").join(", ") || "none";

export async function probeVideo(file: string, label: string, maxFramePixels: number): Promise<VideoInfo> {
  return videoInfo(await probeFile(file, label), label, maxFramePixels);
}

/** The video stream of a probe, as the decoder will deliver it; its faults as BadInputError. */
export function videoInfo(data: Probed, label: string, maxFramePixels: number): VideoInfo {
  // Cover art in audio files shows up as a single-picture "video" stream; it is not video.
  const stream = data.streams.find((s) => s.codec_type === "video" && s.disposition?.attached_pic !== 1);
  if (!stream) throw new BadInputError(`${label} has no video stream (streams found: ${streamTypes(data)})`);
  checkCodec(stream, label, "video");
  const storedWidth = Number(stream.width);
  const storedHeight = Number(stream.height);
  if (!(storedWidth > 0 && storedHeight > 0))
    throw new BadInputError(`${label} has a video stream without a frame size`);
  const rotation = probeRotation(stream, label);
  const [width, height] = rotation % 180 === 0 ? [storedWidth, storedHeight] : [storedHeight, storedWidth];
  if (width * height > maxFramePixels)
    throw new BadInputError(
      `${label} frames are ${width}x${height} = ${width * height} pixels, more than MAX_FRAME_PIXELS=${maxFramePixels}`,
    );
  const fps = rate(stream.avg_frame_rate) || rate(stream.r_frame_rate);
  if (!(fps > 0 && fps <= 240)) throw new BadInputError(`${label} has no usable frame rate (${stream.avg_frame_rate})`);
  const duration = Number(stream.duration) || Number(data.format.duration) || 0;
  const counted = Number(stream.nb_frames);
  const frames = counted > 0 ? counted : Math.round(duration * fps);
  if (!(frames > 0)) throw new BadInputError(`${label} has a video stream with no frames`);
  const color = stream as { color_space?: string; color_range?: string; pix_fmt?: string };
  return {
    width,
    height,
    rotation,
    fps,
    frames,
    duration: duration || frames / fps,
    colorMatrix: colorMatrixOf(color.color_space),
    fullRange: color.color_range === "pc" || (color.pix_fmt ?? "").startsWith("yuvj"),
  };
}

/** The stream's display rotation: its display matrix, else its legacy `rotate` tag. */
function probeRotation(stream: ProbedStream, label: string) {
  const matrix = (stream.side_data_list ?? []).find((d) => d.side_data_type === "Display Matrix");
  const rotateTag = Object.entries(stream.tags ?? {}).find(([k]) => k.toLowerCase() === "rotate")?.[1];
  const result = readRotation({
    displayMatrix: matrix ? (matrix.displaymatrix ?? "") : undefined,
    rotateTag: rotateTag === undefined ? undefined : String(rotateTag),
  });
  if (!result.ok)
    throw new BadInputError(
      `${label} cannot be shown upright: ${result.reason}; only quarter turns without mirroring are supported ` +
        "(re-encode it upright first, e.g. with ffmpeg's rotate, transpose or hflip filters and -noautorotate)",
    );
  return result.clockwise;
}

export async function probeAudio(file: string, label: string): Promise<AudioInfo> {
  return audioInfo(await probeFile(file, label), label);
}

/** The audio stream of a probe; none, or one this ffmpeg cannot decode, is a BadInputError. */
export function audioInfo(data: Probed, label: string): AudioInfo {
  const stream = data.streams.find((s) => s.codec_type === "audio");
  if (!stream) throw new BadInputError(`${label} has no audio stream (streams found: ${streamTypes(data)})`);
  checkCodec(stream, label, "audio");
  return {
    duration: Number(stream.duration) || Number(data.format.duration) || 0,
    sampleRate: Number(stream.sample_rate) || 0,
    codec: stream.codec_name ?? "",
  };
}

/** ffprobe names a stream's codec "unknown" (or none) when this ffmpeg has no decoder for it. */
function checkCodec(stream: ProbedStream, label: string, kind: string): void {
  const codec = stream.codec_name;
  if (!codec || codec === "unknown" || codec === "none")
    throw new BadInputError(
      `${label} has a ${kind} stream in a codec this ffmpeg cannot decode (codec tag ${stream.codec_tag_string ?? "?"}); convert it to e.g. ${kind === "video" ? "H.264 MP4" : "WAV or AAC"}`,
    );
}

/** The face box must lie inside the frame; null means the whole frame. */
export function checkBox(box: readonly [number, number, number, number] | null, video: VideoInfo): void {
  if (!box) return;
  const [x, y, w, h] = box;
  if (x + w > video.width || y + h > video.height)
    throw new BadInputError(
      `face box [${box.join(", ")}] (x, y, width, height) lies outside the ${video.width}x${video.height} video frame`,
    );
}
