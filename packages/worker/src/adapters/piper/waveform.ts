import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { POSTER_WIDTH } from "../../media/poster.ts";

const run = promisify(execFile);

/** A speech output's picture: its waveform drawn by ffmpeg (showwavespic), a JPEG as wide as a video's poster. */
export async function drawWaveform(audio: string, out: string, signal?: AbortSignal): Promise<void> {
  await run(
    "ffmpeg",
    [
      ...["-v", "error", "-y", "-i", audio],
      ...["-filter_complex", `showwavespic=s=${POSTER_WIDTH}x${POSTER_WIDTH / 4}:colors=0x3a7bd5`],
      ...["-frames:v", "1", "-q:v", "4", out],
    ],
    { signal },
  );
}
