/**
 * The face-swap frame path against ffmpeg alone, in one run, on a 1280x720 25 fps 8 s clip of
 * the moving astronaut (200 frames, the face out of view for about a second):
 * - baseline: `ffmpeg decode | ffmpeg encode` through a yuv420p pipe with the worker's own
 *   encoder arguments (what the swap path costs without the face);
 * - the swap path with the identity swapper, a near-free model with inswapper-128's signature
 *   (packages/worker/scripts/swap-path-alone.ts; detection is not timed: it runs once per video);
 * - ROUNDS rounds of (ffmpeg alone, swap path, ffmpeg alone); each round's ratio (ffmpeg alone's
 *   mean wall time / the swap path's) is printed, the median is the figure; each stage's busy
 *   fraction of the swap path's wall time says what limits it.
 *
 * Run: pnpm bench faceswap
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { SWAP_STAGES } from "../../packages/worker/src/adapters/inswapper/swap-path.ts";
import { prepareSwapPathAlone } from "../../packages/worker/scripts/swap-path-alone.ts";
import { encoderArgs } from "../../packages/worker/src/media/encode.ts";
import { cpuSeconds } from "../harness/cpu.ts";
import { DEFAULT_FOOTAGE, makeFaceFootage, scaledFootage } from "../harness/face-footage.ts";

const W = 1280;
const H = 720;
const ROUNDS = 3;
const BATCH = 16;

async function measure<T>(fn: () => Promise<T>): Promise<{ wall: number; cpu: number; value: T }> {
  const cpu = cpuSeconds();
  const started = performance.now();
  const value = await fn();
  return { wall: (performance.now() - started) / 1000, cpu: cpuSeconds() - cpu, value };
}

function ffmpegOnly(video: string, fps: number, out: string): Promise<void> {
  const decoder = spawn("ffmpeg", [
    ...["-hide_banner", "-loglevel", "error", "-nostdin", "-i", video],
    ...["-an", "-pix_fmt", "yuv420p", "-f", "rawvideo", "pipe:1"],
  ]);
  const encoder = spawn("ffmpeg", [
    ...["-hide_banner", "-loglevel", "error", "-y"],
    ...["-f", "rawvideo", "-pix_fmt", "yuv420p", "-video_size", `${W}x${H}`, "-framerate", String(fps), "-i", "pipe:0"],
    ...encoderArgs("libx264", "video", 0, { audio: false }),
    out,
  ]);
  decoder.stdout.pipe(encoder.stdin);
  const exited = (p: ReturnType<typeof spawn>, name: string) =>
    new Promise<void>((resolve, reject) =>
      p.on("close", (code) => (code === 0 ? resolve() : reject(new Error(`${name} exited with ${code}`)))),
    );
  return Promise.all([exited(decoder, "decoder"), exited(encoder, "encoder")]).then(() => {});
}

export default async function faceswapBench(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "faceswap-bench-"));
  try {
    const clip = path.join(dir, "astronaut-720p.mp4");
    makeFaceFootage(clip, scaledFootage(DEFAULT_FOOTAGE, W, H));
    const swap = await prepareSwapPathAlone(clip);
    console.log(
      `clip: ${W}x${H}, ${swap.frames} frames at ${swap.fps} fps, a face on ${swap.withFace}; ` +
        `swapper: identity (inswapper-128 signature), batches of ${BATCH}`,
    );
    const ratios: number[] = [];
    try {
      for (let round = 1; round <= ROUNDS; round++) {
        const before = await measure(() => ffmpegOnly(clip, swap.fps, path.join(dir, "alone.mp4")));
        const swapped = await measure(() => swap.run(path.join(dir, "swapped.mp4"), BATCH));
        const after = await measure(() => ffmpegOnly(clip, swap.fps, path.join(dir, "alone.mp4")));
        const alone = (before.wall + after.wall) / 2;
        const ratio = alone / swapped.wall;
        ratios.push(ratio);
        const busy = swapped.value.busy;
        const share = SWAP_STAGES.map((s) => `${s} ${(busy[s] / swapped.wall).toFixed(2)}`).join(", ");
        console.log(
          `round ${round}: ffmpeg alone ${alone.toFixed(2)} s wall (${((before.cpu + after.cpu) / 2).toFixed(2)} s cpu), ` +
            `swap path ${swapped.wall.toFixed(2)} s wall (${swapped.cpu.toFixed(2)} s cpu, ` +
            `${(swap.frames / swapped.wall).toFixed(1)} frames/s): ${ratio.toFixed(2)}x ffmpeg alone; ` +
            `stage busy / wall: ${share}`,
        );
      }
    } finally {
      await swap.close();
    }
    const median = [...ratios].sort((a, b) => a - b)[Math.floor(ratios.length / 2)] as number;
    console.log(`faceswap: median ${median.toFixed(2)}x ffmpeg alone (goal >= 0.8x; wall times on a shared machine)`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
