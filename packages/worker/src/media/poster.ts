import { execFile } from "node:child_process";
import { promisify } from "node:util";

const run = promisify(execFile);

/** Poster width in pixels: a thumbnail for the web page's item list (docs/architecture.md#outputs). */
export const POSTER_WIDTH = 320;

/**
 * A JPEG of the finished output's first frame, scaled to POSTER_WIDTH. A separate ffmpeg
 * run over the encoded file, so the encoder's frame path stays as it is.
 */
export async function makePoster(video: string, out: string, signal?: AbortSignal): Promise<void> {
  await run(
    "ffmpeg",
    ["-v", "error", "-y", "-i", video, "-frames:v", "1", "-vf", `scale=${POSTER_WIDTH}:-2`, "-q:v", "4", out],
    { signal },
  );
}
