import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { astronautPng as fetchAstronaut } from "@mediaq/cli/astronaut";

/**
 * Real face footage made at test time: the scikit-image astronaut portrait (a public-domain
 * NASA photo, shipped in Debian's python3-skimage package) moved and scaled along a known
 * path over a plain background with ffmpeg, and speech made with espeak-ng.
 */

/** Gitignored cache for downloaded test material (kept between runs). */
export const CACHE_DIR = fileURLToPath(new URL("../.cache/", import.meta.url));

/** The portrait, fetched once into the cache (the CLI's helper, which `mediaq demo --swap` uses too). */
export const astronautPng = (): string => fetchAstronaut(CACHE_DIR);

/** Side of the portrait in pixels. */
export const PORTRAIT_SIZE = 512;

/**
 * The face box on the still portrait [x1, y1, x2, y2], fixed by eye: the 256x256 BlazeFace
 * model was run on the still, its box ([173,74,277,179]) drawn on a PNG and looked at; the
 * face spans cheek to cheek and eyebrows to chin at these coordinates.
 */
export const PORTRAIT_FACE: [number, number, number, number] = [175, 76, 276, 178];

/** Where the portrait is at time t: top-left corner and side, in frame pixels. */
export interface Placement {
  x: number;
  y: number;
  size: number;
}

/** Keyframes of the portrait's path; between them it moves linearly. */
export type Keyframe = { t: number } & Placement;

// ffmpeg rounds overlay positions down to even numbers for yuv420p, and scale sizes are made
// even here, so the expression and placementAt agree to the pixel.
const even = (v: number) => 2 * Math.trunc(v / 2);

function lerpExpr(keys: Keyframe[], field: keyof Placement): string {
  let expr = String((keys[keys.length - 1] as Keyframe)[field]);
  for (let i = keys.length - 2; i >= 0; i--) {
    const a = keys[i] as Keyframe;
    const b = keys[i + 1] as Keyframe;
    const slope = (b[field] - a[field]) / (b.t - a.t);
    expr = `if(lt(t,${b.t}),${a[field]}+(${slope})*(t-${a.t}),${expr})`;
  }
  return `2*trunc((${expr})/2)`;
}

export function placementAt(keys: Keyframe[], t: number): Placement {
  const place = (field: keyof Placement) => {
    for (let i = 0; i < keys.length - 1; i++) {
      const a = keys[i] as Keyframe;
      const b = keys[i + 1] as Keyframe;
      if (t < b.t) return even(a[field] + ((b[field] - a[field]) / (b.t - a.t)) * (t - a.t));
    }
    return even((keys[keys.length - 1] as Keyframe)[field]);
  };
  return { x: place("x"), y: place("y"), size: place("size") };
}

/** The face box at time t ([x1, y1, x2, y2] in frame pixels, possibly outside the frame). */
export function faceBoxAt(keys: Keyframe[], t: number): [number, number, number, number] {
  const p = placementAt(keys, t);
  const k = p.size / PORTRAIT_SIZE;
  const [x1, y1, x2, y2] = PORTRAIT_FACE;
  return [p.x + x1 * k, p.y + y1 * k, p.x + x2 * k, p.y + y2 * k];
}

export interface FaceFootage {
  width: number;
  height: number;
  fps: number;
  seconds: number;
  path: Keyframe[];
}

/**
 * The default clip: 640x360, 25 fps, 8 s. The portrait shrinks and drifts right, leaves the
 * frame on the right (fully out from about 4.3 s to 5.5 s) and comes back to the middle.
 */
export const DEFAULT_FOOTAGE: FaceFootage = {
  width: 640,
  height: 360,
  fps: 25,
  seconds: 8,
  path: [
    { t: 0, x: 40, y: 20, size: 300 },
    { t: 3, x: 220, y: 50, size: 240 },
    { t: 4.5, x: 820, y: 50, size: 240 },
    { t: 5.5, x: 820, y: 40, size: 240 },
    { t: 8, x: 240, y: 30, size: 260 },
  ],
};

/** Scales a footage description to another frame size (the path scales with it). */
export function scaledFootage(f: FaceFootage, width: number, height: number): FaceFootage {
  const k = width / f.width;
  return {
    ...f,
    width,
    height,
    path: f.path.map((p) => ({ t: p.t, x: p.x * k, y: p.y * k, size: p.size * k })),
  };
}

/** Renders the footage (H.264, no audio) to `file`. */
export function makeFaceFootage(file: string, f: FaceFootage = DEFAULT_FOOTAGE): void {
  const size = lerpExpr(f.path, "size");
  execFileSync("ffmpeg", [
    "-y",
    "-hide_banner",
    "-loglevel",
    "error",
    "-f",
    "lavfi",
    "-i",
    `color=c=0x2a4d69:s=${f.width}x${f.height}:r=${f.fps}:d=${f.seconds}`,
    "-loop",
    "1",
    "-framerate",
    String(f.fps),
    "-i",
    astronautPng(),
    "-filter_complex",
    `[1:v]scale=w='${size}':h='${size}':eval=frame[p];` +
      `[0:v][p]overlay=x='${lerpExpr(f.path, "x")}':y='${lerpExpr(f.path, "y")}':eval=frame:shortest=1,format=yuv420p`,
    "-t",
    String(f.seconds),
    "-c:v",
    "libx264",
    "-crf",
    "18",
    "-g",
    String(f.fps),
    file,
  ]);
}

/** Is the face box wholly inside the frame? */
export function fullyVisible(box: [number, number, number, number], width: number, height: number): boolean {
  return box[0] >= 0 && box[1] >= 0 && box[2] <= width && box[3] <= height;
}

/** Is any part of the portrait inside the frame? */
export function portraitVisible(keys: Keyframe[], t: number, width: number, height: number): boolean {
  const p = placementAt(keys, t);
  return p.x < width && p.y < height && p.x + p.size > 0 && p.y + p.size > 0;
}

/**
 * Luma samples of `frame` that differ from `before` outside the face `box` grown by half its
 * size on each side: a swap's paste must change nothing there.
 */
export function lumaChangedOutside(
  frame: Uint8Array,
  before: Uint8Array,
  box: [number, number, number, number],
  width: number,
  height: number,
): number {
  const [x1, y1, x2, y2] = box;
  const gx = (x2 - x1) / 2;
  const gy = (y2 - y1) / 2;
  let changed = 0;
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++)
      if (
        (x < x1 - gx || x >= x2 + gx || y < y1 - gy || y >= y2 + gy) &&
        frame[y * width + x] !== before[y * width + x]
      )
        changed++;
  return changed;
}

/** Speech made with espeak-ng (16 kHz mono WAV). */
export function makeSpeech(file: string, text: string, o: { voice?: string; speed?: number } = {}): void {
  execFileSync("espeak-ng", ["-v", o.voice ?? "en", "-s", String(o.speed ?? 160), "-w", file, text]);
}
