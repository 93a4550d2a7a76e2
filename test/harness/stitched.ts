import { execFile } from "node:child_process";
import { promisify } from "node:util";

const run = promisify(execFile);

export interface StitchedProbe {
  frames: number;
  /** Presentation times of the video frames, seconds, in order. */
  pts: number[];
  videoSeconds: number;
  audioSeconds: number;
}

/** Reads a stitched output's video frame times and stream durations with ffprobe. */
export async function probeStitched(file: string): Promise<StitchedProbe> {
  const frames = await run(
    "ffprobe",
    ["-v", "error", "-select_streams", "v:0", "-show_entries", "frame=pts_time", "-of", "csv=p=0", file],
    { maxBuffer: 64 * 1024 ** 2 },
  );
  const pts = frames.stdout
    .split("\n")
    .map((l) => l.trim().replace(/,$/, ""))
    .filter(Boolean)
    .map(Number);
  const durations = await run("ffprobe", [
    ...["-v", "error", "-show_entries", "stream=codec_type,duration", "-of", "json", file],
  ]);
  const streams = (JSON.parse(durations.stdout) as { streams: { codec_type: string; duration: string }[] }).streams;
  const seconds = (type: string) => Number(streams.find((s) => s.codec_type === type)?.duration ?? Number.NaN);
  return { frames: pts.length, pts, videoSeconds: seconds("video"), audioSeconds: seconds("audio") };
}

/**
 * The ffprobe checks of a stitched output: the expected frame count, every frame exactly one
 * frame interval after the last (no gap or duplicate at a seam), audio and video durations
 * within one frame. Returns the problems found (empty = passes).
 */
export function stitchProblems(p: StitchedProbe, expectedFrames: number, fps: number): string[] {
  const problems: string[] = [];
  const step = 1 / fps;
  if (p.frames !== expectedFrames) problems.push(`${p.frames} frames, expected ${expectedFrames}`);
  for (let i = 1; i < p.pts.length; i++) {
    const gap = (p.pts[i] as number) - (p.pts[i - 1] as number);
    if (Math.abs(gap - step) > step / 4) problems.push(`frame ${i} is ${gap.toFixed(4)} s after frame ${i - 1}`);
  }
  if (!(Math.abs(p.videoSeconds - p.audioSeconds) <= step))
    problems.push(`video ${p.videoSeconds} s and audio ${p.audioSeconds} s differ by more than a frame`);
  return problems;
}

/** MD5 of each decoded video frame (ffmpeg's framemd5), in order. */
export async function frameHashes(file: string): Promise<string[]> {
  const { stdout } = await run("ffmpeg", ["-v", "error", "-i", file, "-map", "0:v:0", "-f", "framemd5", "-"], {
    maxBuffer: 64 * 1024 ** 2,
  });
  return stdout
    .split("\n")
    .filter((l) => l && !l.startsWith("#"))
    .map((l) => l.split(",").pop()?.trim() ?? "");
}
