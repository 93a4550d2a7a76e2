import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { POSTER_WIDTH } from "./encode.ts";

export { POSTER_WIDTH };

const run = promisify(execFile);

/**
 * A JPEG of a finished output's first frame, scaled to POSTER_WIDTH: for a long item, whose
 * pieces are stitched without an encoder that could write it (a single job's encoder writes
 * its own: media/encode.ts, docs/architecture.md#outputs).
 */
export async function makePoster(video: string, out: string, signal?: AbortSignal): Promise<void> {
  await run(
    "ffmpeg",
    ["-v", "error", "-y", "-i", video, "-frames:v", "1", "-vf", `scale=${POSTER_WIDTH}:-2`, "-q:v", "4", out],
    { signal },
  );
}
