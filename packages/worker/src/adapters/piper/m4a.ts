import { execFile } from "node:child_process";
import { promisify } from "node:util";

const run = promisify(execFile);

/** AAC bit rate of M4A speech: mono voice at 96 kb/s is transparent to most ears. */
export const M4A_BITRATE = "96k";

/** The finished WAV as AAC in an M4A (faststart: playable while it downloads). */
export async function encodeM4a(wav: string, out: string, signal?: AbortSignal): Promise<void> {
  await run(
    "ffmpeg",
    [
      ...["-v", "error", "-y", "-nostdin", "-i", wav],
      ...["-c:a", "aac", "-b:a", M4A_BITRATE, "-movflags", "+faststart", out],
    ],
    { signal },
  );
}
