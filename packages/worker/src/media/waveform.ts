import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { POSTER_WIDTH } from "./poster.ts";

const run = promisify(execFile);

/** Waveform height in pixels (the width is a poster's). */
export const WAVEFORM_HEIGHT = 120;

/**
 * A JPEG of an audio output's waveform, POSTER_WIDTH wide: an audio adapter's picture, shown
 * where a video shows its poster (docs/architecture.md#outputs).
 */
export async function makeWaveform(audio: string, out: string, signal?: AbortSignal): Promise<void> {
  await run(
    "ffmpeg",
    [
      ...["-v", "error", "-y", "-i", audio],
      ...["-filter_complex", `aformat=channel_layouts=mono,showwavespic=s=${POSTER_WIDTH}x${WAVEFORM_HEIGHT}`],
      ...["-frames:v", "1", "-q:v", "4", out],
    ],
    { signal },
  );
}
