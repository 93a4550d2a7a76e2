import { execFile } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { promisify } from "node:util";

// Sample clips come from the same generator the demo uses; the rest are test-only media.
export * from "@mediaq/cli/sample-media";

const exec = promisify(execFile);
const ffmpegArgs = ["-hide_banner", "-loglevel", "error", "-y"];

/** Every frame of a video as rgb24, as ffmpeg displays it (autorotated), with its size. */
export async function decodeAll(file: string): Promise<{ width: number; height: number; frames: Buffer[] }> {
  const { stdout: size } = await exec("ffprobe", [
    ...["-v", "error", "-select_streams", "v:0", "-show_entries", "stream=width,height", "-of", "csv=p=0", file],
  ]);
  const { stdout: turned } = await exec("ffprobe", [
    ...["-v", "error", "-select_streams", "v:0", "-show_entries", "stream_side_data=rotation", "-of", "csv=p=0"],
    file,
  ]);
  let [width, height] = size.trim().split(",").map(Number) as [number, number];
  if (Math.abs(Number(turned.trim() || 0)) % 180 === 90) [width, height] = [height, width];
  const { stdout } = await exec(
    "ffmpeg",
    ["-v", "error", "-i", file, "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1"],
    {
      encoding: "buffer",
      maxBuffer: 1024 * 1024 * 1024,
    },
  );
  const bytes = width * height * 3;
  const frames = Array.from({ length: Math.floor(stdout.length / bytes) }, (_, i) =>
    stdout.subarray(i * bytes, (i + 1) * bytes),
  );
  return { width, height, frames };
}

/** Index-coded clips: the top 16 rows carry the frame number in binary, 16x16 blocks, bit 0 leftmost. */
export const INDEX_BITS = 8;
const BLOCK = 16;

/**
 * A clip whose every frame shows its own index (see readFrameIndex) over testsrc2's moving
 * pattern, so neighbouring frames differ a little and distant ones a lot. Width >= 128.
 */
export async function makeIndexedVideo(
  file: string,
  o: { seconds: number; fps?: number; width?: number; height?: number },
): Promise<void> {
  const { seconds, fps = 25, width = 160, height = 120 } = o;
  const bit = `mod(floor(N/pow(2,floor(X/${BLOCK}))),2)`;
  const lum = `if(lt(Y,${BLOCK}),if(lt(X,${BLOCK * INDEX_BITS}),16+219*${bit},128),lum(X,Y))`;
  const chroma = (plane: string) => `if(lt(Y,${BLOCK / 2}),128,${plane}(X,Y))`;
  await exec("ffmpeg", [
    ...ffmpegArgs,
    ...["-f", "lavfi", "-i", `testsrc2=size=${width}x${height}:rate=${fps}:duration=${seconds}`],
    ...["-vf", `format=yuv420p,geq=lum='${lum}':cb='${chroma("cb")}':cr='${chroma("cr")}'`],
    ...["-c:v", "libx264", "-preset", "ultrafast", "-crf", "10", "-pix_fmt", "yuv420p", file],
  ]);
}

/** The frame index a makeIndexedVideo frame shows (read at the block centres). */
export function readFrameIndex(frame: Buffer, width: number): number {
  let index = 0;
  for (let b = 0; b < INDEX_BITS; b++) {
    const p = ((BLOCK / 2) * width + b * BLOCK + BLOCK / 2) * 3;
    const level = ((frame[p] as number) + (frame[p + 1] as number) + (frame[p + 2] as number)) / 3;
    if (level > 128) index |= 1 << b;
  }
  return index;
}

/** Upright test picture for rotation: grey, a red square at the top left, a green one at the bottom left. */
export const ROTATION_MARKERS = {
  red: { x: 4, y: 4, size: 16 },
  green: { x: 4, yFromBottom: 20, size: 16 },
};

const uprightSource = (width: number, height: number, seconds: number) =>
  `color=c=gray:s=${width}x${height}:r=25:d=${seconds},` +
  `drawbox=x=4:y=4:w=16:h=16:c=red:t=fill,drawbox=x=4:y=${height - 20}:w=16:h=16:c=lime:t=fill`;

let displayRotationOption: boolean | undefined;
async function hasDisplayRotationOption(): Promise<boolean> {
  if (displayRotationOption === undefined) {
    const { stdout } = await exec("ffmpeg", ["-hide_banner", "-h", "full"], { maxBuffer: 64 * 1024 * 1024 });
    displayRotationOption = stdout.includes("-display_rotation");
  }
  return displayRotationOption;
}

/**
 * A phone-style clip: stored sideways (`width`x`height` is the upright, displayed size) with
 * rotation metadata so that it displays upright with ROTATION_MARKERS in place.
 * - via "matrix": the MP4 display matrix (ffmpeg >= 6.1 `-display_rotation`, else the
 *   `-metadata:s:v rotate` that ffmpeg 5 turns into a matrix). Checked against ffmpeg's
 *   own autorotated decode, so the file is known to display upright.
 * - via "tag": a Matroska stream tag ROTATE=<clockwise degrees>, the legacy form ffmpeg
 *   before 5.0 read and wrote (ffmpeg 5+ ignores it when decoding).
 * `from` turns an upright clip of your own (e.g. a face clip) instead of the marker picture;
 * its video is re-encoded, its audio dropped, and `width`/`height` must be its size.
 */
export async function makeRotatedVideo(
  file: string,
  o: {
    clockwise: 90 | 180 | 270;
    via: "matrix" | "tag";
    width?: number;
    height?: number;
    seconds?: number;
    from?: string;
  },
): Promise<void> {
  const { clockwise, via, width = 72, height = 128, seconds = 1 } = o;
  // Stored = upright turned back (counter-clockwise) by the display rotation.
  const back = { 90: "transpose=cclock", 180: "hflip,vflip", 270: "transpose=clock" }[clockwise];
  const stored = `${file}.stored.mp4`;
  const input = o.from
    ? ["-i", o.from, "-an", "-vf", back]
    : ["-f", "lavfi", "-i", `${uprightSource(width, height, seconds)},${back}`];
  await exec("ffmpeg", [
    ...[...ffmpegArgs, ...input],
    ...["-c:v", "libx264", "-preset", "ultrafast", "-crf", "10", "-pix_fmt", "yuv420p", stored],
  ]);
  try {
    if (via === "tag") {
      const meta = `${file}.ffmeta`;
      fs.writeFileSync(meta, `;FFMETADATA1\n[STREAM]\nrotate=${clockwise}\n`);
      await exec("ffmpeg", [
        ...[...ffmpegArgs, "-i", stored, "-i", meta, "-map", "0", "-map_metadata:s:v:0", "1:s:0", "-c", "copy", file],
      ]);
      fs.rmSync(meta);
      return;
    }
    const ccw = (360 - clockwise) % 360;
    const rotate = (await hasDisplayRotationOption())
      ? ["-display_rotation:v:0", String(ccw), "-i", stored, "-c", "copy", file]
      : ["-i", stored, "-c", "copy", "-metadata:s:v:0", `rotate=${ccw}`, file];
    await exec("ffmpeg", [...ffmpegArgs, ...rotate]);
    // ffmpeg's own display of the file must be the upright picture.
    const shown = await decodeAll(file);
    if (shown.width !== width || shown.height !== height)
      throw new Error(`makeRotatedVideo: ffmpeg shows ${shown.width}x${shown.height}, not ${width}x${height}`);
    const first = shown.frames[0] as Buffer;
    if (o.from) {
      const upright = (await decodeAll(o.from)).frames[0] as Buffer;
      let diff = 0;
      for (let i = 0; i < first.length; i++) diff += Math.abs((first[i] as number) - (upright[i] as number));
      if (diff / first.length > 8) throw new Error("makeRotatedVideo: ffmpeg does not show the clip upright");
    } else {
      const red = markerAt(first, width, ROTATION_MARKERS.red.x + 8, ROTATION_MARKERS.red.y + 8);
      if (red !== "red") throw new Error(`makeRotatedVideo: ffmpeg shows ${red} at the top left, not red`);
    }
  } finally {
    fs.rmSync(stored, { force: true });
  }
}

/** "red", "green", "grey" or "other": the colour at (x, y) of an rgb24 frame. */
export function markerAt(frame: Buffer, width: number, x: number, y: number): string {
  const p = (y * width + x) * 3;
  const [r, g, b] = [frame[p], frame[p + 1], frame[p + 2]] as [number, number, number];
  if (r > 180 && g < 80 && b < 80) return "red";
  if (g > 180 && r < 80 && b < 80) return "green";
  if (Math.abs(r - 128) < 30 && Math.abs(g - 128) < 30 && Math.abs(b - 128) < 30) return "grey";
  return "other";
}

/** An upright clip whose MP4 display matrix mirrors it (a = -1: a horizontal flip), made by patching tkhd. */
export async function makeMirroredVideo(file: string): Promise<void> {
  const plain = `${file}.plain.mp4`;
  await exec("ffmpeg", [
    ...ffmpegArgs,
    ...["-f", "lavfi", "-i", uprightSource(72, 128, 1)],
    ...["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", plain],
  ]);
  const bytes = fs.readFileSync(plain);
  fs.rmSync(plain);
  // tkhd (version 0): the 3x3 matrix starts 44 bytes after the box type; a is its first entry.
  const tkhd = bytes.indexOf("tkhd");
  if (tkhd < 0 || bytes[tkhd + 4] !== 0) throw new Error("makeMirroredVideo: no version-0 tkhd box");
  bytes.writeInt32BE(-65536, tkhd + 44);
  fs.writeFileSync(file, bytes);
}

/** Speech from espeak-ng, padded with silence or cut to exactly `seconds` (16 kHz mono WAV). */
export async function makeSpeech(file: string, o: { seconds: number; text?: string }): Promise<void> {
  const text =
    o.text ??
    "The quick brown fox jumps over the lazy dog. A short avatar clip, a long narration, and an output " +
      "as long as the audio, with the clip looped forward and back so that there is no jump cut at the seams.";
  const raw = path.join(path.dirname(file), `${path.basename(file)}.espeak.wav`);
  await exec("espeak-ng", ["-w", raw, text]);
  await exec("ffmpeg", [
    ...[...ffmpegArgs, "-i", raw, "-af", `apad=whole_dur=${o.seconds}`, "-t", String(o.seconds)],
    ...["-ar", "16000", "-ac", "1", file],
  ]);
  fs.rmSync(raw);
}
