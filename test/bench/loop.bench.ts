/**
 * What looping a clip costs (docs/architecture.md#decoding-rotation-timeline-colour-order): decoding 750 output frames of a
 * 720p timeline, against plain forward decodes of the same clip (decodeFrames from the start,
 * repeated) measured in the same run. Each case runs in its own process so its peak RSS is its
 * own: the frames held stay within LOOP_BUFFER_BYTES whatever the clip's length.
 *
 * Run: pnpm bench loop   (or: node test/bench/loop.bench.ts)
 */
import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { FramePool } from "../../packages/worker/src/frames/frame-pool.ts";
import { decodeFrames } from "../../packages/worker/src/media/decode.ts";
import { probeVideo } from "../../packages/worker/src/media/probe.ts";
import { timelineFrames } from "../../packages/worker/src/media/timeline-frames.ts";

const run = promisify(execFile);
const MiB = 1024 ** 2;
const here = fileURLToPath(import.meta.url);

interface CaseResult {
  frames: number;
  seconds: number;
  peakRssMiB: number;
}

/** One case, in this process: `loops` clip lengths of the timeline (or of plain decodes), sampling RSS. */
async function runCase(file: string, loop: "pingpong" | "forward" | "decode", loops: number, bufferBytes: number) {
  const video = await probeVideo(file, "clip", 4096 * 4096);
  const started = performance.now();
  let frames = 0;
  let peak = process.memoryUsage().rss;
  const count = () => {
    frames++;
    if (frames % 10 === 0) peak = Math.max(peak, process.memoryUsage().rss);
  };
  const pool = new FramePool(video.width * video.height * 3, 4);
  const codecs = { decoder: "cpu", device: 0 } as const;
  if (loop === "decode")
    for (let i = 0; i < loops; i++)
      for await (const frame of decodeFrames(file, "clip", video, pool, codecs)) {
        count();
        pool.release(frame);
      }
  else
    for await (const { frame } of timelineFrames({
      file,
      label: "clip",
      video,
      frames: loops * video.frames,
      loop,
      bufferBytes,
      pool,
      codecs,
    })) {
      count();
      pool.release(frame);
    }
  const result: CaseResult = { frames, seconds: (performance.now() - started) / 1000, peakRssMiB: peak / MiB };
  console.log(JSON.stringify(result));
}

async function inChild(file: string, loop: string, loops: number, bufferBytes: number): Promise<CaseResult> {
  const { stdout } = await run(process.execPath, [here, "--case", file, loop, String(loops), String(bufferBytes)], {
    maxBuffer: 1024 * 1024,
  });
  return JSON.parse(stdout.trim().split("\n").pop() as string) as CaseResult;
}

export default async function loopBench(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mediaq-loop-bench-"));
  try {
    const clips = { long: path.join(dir, "long.mp4"), short: path.join(dir, "short.mp4") };
    // x264's default keyframe interval (250 frames): a seek decodes from up to 10 s back.
    for (const [file, seconds] of [
      [clips.long, 10],
      [clips.short, 2],
    ] as const)
      await run("ffmpeg", [
        ...["-v", "error", "-y", "-f", "lavfi", "-i", `testsrc2=size=1280x720:rate=25:duration=${seconds}`],
        ...["-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", file],
      ]);
    // 750 output frames each: the 10 s clip (2.76 GB of frames) three times, the 2 s clip
    // (138 MB, fits the default buffer) fifteen times.
    const cases = [
      ["10 s clip, plain decode x3 (baseline)", clips.long, "decode", 3, 0],
      ["10 s clip, forward x3", clips.long, "forward", 3, 256 * MiB],
      ["10 s clip, ping-pong x3, LOOP_BUFFER_BYTES=256MiB (default)", clips.long, "pingpong", 3, 256 * MiB],
      ["10 s clip, ping-pong x3, LOOP_BUFFER_BYTES=64MiB", clips.long, "pingpong", 3, 64 * MiB],
      ["2 s clip, plain decode x15", clips.short, "decode", 15, 0],
      ["2 s clip, ping-pong x15, held from one decode (default buffer)", clips.short, "pingpong", 15, 256 * MiB],
    ] as const;
    let baseline = 0;
    for (const [name, file, loop, loops, buffer] of cases) {
      const r = await inChild(file, loop, loops, buffer);
      const fps = r.frames / r.seconds;
      if (!baseline) baseline = fps;
      console.log(
        `${name}: ${r.frames} frames in ${r.seconds.toFixed(1)} s = ${fps.toFixed(0)} frames/s ` +
          `(${(fps / baseline).toFixed(2)}x the baseline), peak RSS ${r.peakRssMiB.toFixed(0)} MiB`,
      );
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const args = process.argv.slice(2);
if (args[0] === "--case") {
  const [file, loop, loops, buffer] = args.slice(1);
  await runCase(file as string, loop as "pingpong" | "forward" | "decode", Number(loops), Number(buffer));
} else if (process.argv[1] && path.resolve(process.argv[1]) === here) await loopBench();
