/**
 * Stitching a long item's pieces: the concat demuxer joins them without re-encoding video
 * (-c:v copy) and the item's audio is muxed once (docs/architecture.md#segments).
 */
import { execFile } from "node:child_process";
import fs from "node:fs";
import { pipeline } from "node:stream/promises";
import { promisify } from "node:util";
import { getObjectStream, HashingStream, type SegmentPiece } from "@mediaq/shared";
import { audioArgs } from "../media/encode.ts";
import type { LengthMode } from "../media/timeline.ts";
import type { ProcessorDeps } from "../processor.ts";
import type { Scratch } from "../scratch.ts";

const run = promisify(execFile);

export interface StitchInput {
  /** In timeline order, each a standalone H.264 MP4 starting on a keyframe. */
  pieces: SegmentPiece[];
  audioFile: string;
  length: LengthMode;
}

/** Downloads the pieces (checked against their recorded hashes) and stitches them; returns the frames. */
export async function stitchPieces(
  deps: Pick<ProcessorDeps, "s3" | "config">,
  o: StitchInput,
  scratch: Scratch,
  outFile: string,
  signal: AbortSignal,
): Promise<number> {
  const files: string[] = [];
  for (const [i, piece] of o.pieces.entries()) {
    const file = scratch.path(`piece-${String(i).padStart(4, "0")}.mp4`);
    const hash = new HashingStream();
    const body = await getObjectStream(deps.s3, deps.config.S3_BUCKET, piece.key);
    await pipeline(body, hash, fs.createWriteStream(file), { signal });
    if (hash.digest() !== piece.sha256) throw new Error(`segment piece ${piece.key} does not match its recorded hash`);
    files.push(file);
  }
  const list = scratch.path("pieces.txt");
  fs.writeFileSync(list, files.map((f) => `file '${f.replaceAll("'", "'\\''")}'\n`).join(""));
  await run(
    "ffmpeg",
    [
      ...["-v", "error", "-y", "-f", "concat", "-safe", "0", "-i", list, "-i", o.audioFile],
      ...["-map", "0:v:0", "-map", "1:a:0", "-c:v", "copy"],
      ...audioArgs(o.length, o.length === "video" ? await piecesSeconds(files, o.pieces, signal) : undefined),
      ...["-movflags", "+faststart", "-f", "mp4", outFile],
    ],
    { signal },
  ).catch((err: Error & { stderr?: string }) => {
    if (signal.aborted) throw signal.reason;
    throw new Error(`ffmpeg could not stitch ${files.length} segment pieces: ${err.stderr?.trim() || err.message}`);
  });
  return o.pieces.reduce((sum, p) => sum + p.count, 0);
}

/** The pieces' frames at their frame rate (read from the first piece): the output's length. */
async function piecesSeconds(files: string[], pieces: SegmentPiece[], signal: AbortSignal): Promise<number> {
  const { stdout } = await run(
    "ffprobe",
    [
      "-v",
      "error",
      "-select_streams",
      "v:0",
      "-show_entries",
      "stream=r_frame_rate",
      "-of",
      "csv=p=0",
      files[0] as string,
    ],
    { signal },
  );
  const [num, den = "1"] = stdout.trim().split("/");
  const fps = Number(num) / Number(den);
  if (!(fps > 0)) throw new Error(`segment piece ${pieces[0]?.key} has no frame rate (${stdout.trim()})`);
  return pieces.reduce((sum, p) => sum + p.count, 0) / fps;
}
