/**
 * The frame path against ffmpeg alone, in one run, on a 1280x720 25 fps 20 s testsrc2 clip
 * (500 frames) with 20 s of audio:
 * - baseline: `ffmpeg decode | ffmpeg encode` through a yuv420p pipe (the frame path's format:
 *   neither side converts colours) with the worker's own encoder arguments, timed before and
 *   after each worker run (the mean of the two is that run's baseline);
 * - ROUNDS rounds of (ffmpeg alone, worker, ffmpeg alone): wall times on 2 shared cores swing
 *   by tens of percent, so each round's ratio is printed and the median is the figure;
 * - the demo model through one in-process worker (box [480,200,320,320]): frames/s of the
 *   frame path (the `infer` stage), the ratio to ffmpeg alone, and each stage's busy
 *   fraction of the frame path's wall time (decode, preprocess, session.run, paste, encode);
 * - the fixed-cost model (~0.4 s per session.run, scripts/test-models.ts) on the workload of
 *   `pnpm bench worker` (12 items of 2 s at 320x240, 25 frames per call) with prefetch on:
 *   the fraction of the worker's wall time spent inside session.run.
 * CPU seconds (this process and its ffmpeg children) are printed beside wall times: on a
 * shared machine they move less with other load than wall times do. Besides the whole job's
 * CPU (fetch, probe, audio, upload and the harness's servers included), the frame path is
 * also run alone in this process (runFramePath with the demo model in-process, same clip and
 * box) and measured exactly as ffmpeg alone is.
 *
 * Run: pnpm bench frames
 */
import { spawn } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { calibratedFixedCostModel } from "../../packages/worker/scripts/test-models.ts";
import { prepareFramePathAlone } from "../../packages/worker/scripts/frame-path-alone.ts";
import { DEMO_MODEL_PATH } from "../../packages/worker/scripts/make-demo-model.ts";
import { startWorker } from "../../packages/worker/src/index.ts";
import { encoderArgs } from "../../packages/worker/src/media/encode.ts";
import { startWorkerHarness, type WorkerHarness } from "../../packages/worker/test/helpers.ts";
import { cpuSeconds } from "../harness/cpu.ts";
import { makeAudio, makeVideo } from "../harness/media.ts";

const W = 1280;
const H = 720;
const FPS = 25;
const SECONDS = 20;
const FRAMES = FPS * SECONDS;
const BOX = [480, 200, 320, 320];
const RUN_MS = 400;
const SMALL_ITEMS = 12;
const STAGES = ["decode", "preprocess", "inference", "paste", "encode"] as const;
const ROUNDS = 3;

interface Measured {
  wall: number;
  cpu: number;
}

async function measure(fn: () => Promise<unknown>): Promise<Measured> {
  const cpu = cpuSeconds();
  const started = performance.now();
  await fn();
  return { wall: (performance.now() - started) / 1000, cpu: cpuSeconds() - cpu };
}

/** `ffmpeg decode | ffmpeg encode` of the clip. */
function ffmpegOnly(video: string, audio: string, out: string): Promise<void> {
  const decoder = spawn("ffmpeg", [
    ...["-hide_banner", "-loglevel", "error", "-nostdin", "-i", video],
    ...["-an", "-pix_fmt", "yuv420p", "-r", String(FPS), "-f", "rawvideo", "pipe:1"],
  ]);
  const encoder = spawn("ffmpeg", [
    ...["-hide_banner", "-loglevel", "error", "-y"],
    ...["-f", "rawvideo", "-pix_fmt", "yuv420p", "-video_size", `${W}x${H}`, "-framerate", String(FPS), "-i", "pipe:0"],
    ...["-i", audio],
    ...encoderArgs("libx264", "audio"), // the worker's default length follows the audio
    out,
  ]);
  decoder.stdout.pipe(encoder.stdin);
  const exited = (p: ReturnType<typeof spawn>, name: string) =>
    new Promise<void>((resolve, reject) =>
      p.on("close", (code) => (code === 0 ? resolve() : reject(new Error(`${name} exited with ${code}`)))),
    );
  return Promise.all([exited(decoder, "decoder"), exited(encoder, "encoder")]).then(() => {});
}

interface Timings {
  infer?: number;
  inference?: number;
  [stage: string]: number | undefined;
}

async function runItems(
  h: WorkerHarness,
  model: string,
  items: { video: string; audio: string; params?: unknown }[],
  o: { prefetch: boolean; batchSize: number },
) {
  // One job per item, never segments: the frame path of a whole item is what is measured.
  const worker = await startWorker(h.config({ INFERENCE_BATCH_SIZE: o.batchSize, SEGMENT_SECONDS: 3600 }), {
    prefetch: o.prefetch,
  });
  try {
    const started = Date.now();
    const cpuAtStart = cpuSeconds();
    const { batchId, items: submitted } = await h.submit(
      model,
      items.map((i, n) => ({ name: `i${n}`, ...i })),
    );
    const counts = await h.waitDone(batchId, 1_800_000);
    const wall = (Date.now() - started) / 1000;
    const cpu = cpuSeconds() - cpuAtStart;
    const results = await Promise.all(submitted.map((i) => h.ledger.jobs.getResult(i.jobKey)));
    const spans = await h.ledger.jobs.inferenceSpans(worker.workerId);
    return {
      ok: counts.succeeded,
      wall,
      cpu,
      timings: results.map((r) => (r?.timings ?? {}) as Timings),
      runSeconds: spans.reduce((a, s) => a + s.runSeconds, 0),
    };
  } finally {
    await worker.close();
  }
}

const pct = (part: number | undefined, whole: number) => (part === undefined ? "n/a" : (part / whole).toFixed(2));

export default async function framesBench(): Promise<void> {
  const h = await startWorkerHarness();
  try {
    const f = (n: string) => path.join(h.infra.dir, n);
    await makeVideo(f("clip.mp4"), { seconds: SECONDS, width: W, height: H, fps: FPS });
    await makeAudio(f("clip.wav"), { seconds: SECONDS });
    const video = await h.putFile(f("clip.mp4"));

    // Demo model, one item, between two ffmpeg-only runs (the machine's load drifts), ROUNDS times.
    const clip =
      (audioFile = f("clip.wav")) =>
      () =>
        ffmpegOnly(f("clip.mp4"), audioFile, f("ffmpeg.mp4"));
    const demoModel = await h.putFile(DEMO_MODEL_PATH);
    const rounds = [];
    for (let round = 1; round <= ROUNDS; round++) {
      // A new tone each round: an identical item would be found done (same job key) and not run.
      const wav = f(`clip${round}.wav`);
      await makeAudio(wav, { seconds: SECONDS, frequency: 200 + 20 * round });
      const audio = await h.putFile(wav);
      const before = await measure(clip(wav));
      const demo = await runItems(h, demoModel, [{ video, audio, params: { box: BOX } }], {
        prefetch: false,
        batchSize: 16,
      });
      const after = await measure(clip(wav));
      const baseline = (before.wall + after.wall) / 2;
      const baselineCpu = (before.cpu + after.cpu) / 2;
      const t = demo.timings[0] as Timings;
      const frameWall = t.infer ?? Number.NaN;
      rounds.push(baseline / frameWall);
      console.log(
        `round ${round}: ffmpeg decode | encode ${before.wall.toFixed(2)} s and ${after.wall.toFixed(2)} s ` +
          `(CPU ${before.cpu.toFixed(1)} s and ${after.cpu.toFixed(1)} s), mean ${(FRAMES / baseline).toFixed(1)} frames/s; ` +
          `worker, demo model: ${demo.ok}/1 ok, frame path ${frameWall.toFixed(2)} s = ${(FRAMES / frameWall).toFixed(1)} frames/s, ` +
          `ratio ${(baseline / frameWall).toFixed(2)}x of ffmpeg alone (job wall ${demo.wall.toFixed(1)} s, ` +
          `job CPU ${demo.cpu.toFixed(1)} s = ${(demo.cpu / baselineCpu).toFixed(2)}x ffmpeg's)`,
      );
      console.log(`  busy fraction of the frame path: ${STAGES.map((s) => `${s} ${pct(t[s], frameWall)}`).join(", ")}`);
    }
    const sorted = [...rounds].sort((a, b) => a - b);
    console.log(
      `worker, demo model: median ratio ${(sorted[Math.floor(ROUNDS / 2)] as number).toFixed(2)}x of ffmpeg alone ` +
        `over ${ROUNDS} rounds (${rounds.map((r) => r.toFixed(2)).join(", ")})`,
    );
    const before = await measure(clip());
    const framePath = await prepareFramePathAlone(f("clip.mp4"), f("clip.wav"), f("alone.mp4"), BOX);
    const alone = await measure(framePath.run).finally(framePath.release);
    const after = await measure(clip());
    console.log(
      `frame path alone in this process: ${alone.wall.toFixed(2)} s = ${((before.wall + after.wall) / 2 / alone.wall).toFixed(2)}x ` +
        `of ffmpeg alone's wall, CPU ${alone.cpu.toFixed(1)} s = ${(alone.cpu / ((before.cpu + after.cpu) / 2)).toFixed(2)}x ffmpeg alone's`,
    );

    // Fixed-cost model on `pnpm bench worker`'s workload, prefetch on: how busy the card is kept.
    await makeVideo(f("small.mp4"), { seconds: 2, width: 320, height: 240 });
    const small = await h.putFile(f("small.mp4"));
    const smallItems = [];
    for (let i = 0; i < SMALL_ITEMS; i++) {
      await makeAudio(f(`s${i}.wav`), { seconds: 2, frequency: 150 + 10 * i });
      smallItems.push({ video: small, audio: await h.putFile(f(`s${i}.wav`)) });
    }
    const model = await h.putBlob(Buffer.from(await calibratedFixedCostModel(RUN_MS)));
    const fixed = await runItems(h, model, smallItems, { prefetch: true, batchSize: 25 });
    const mean = (s: (typeof STAGES)[number]) =>
      fixed.timings.reduce((a, x) => a + (x[s] ?? 0) / (x.infer ?? Number.NaN), 0) / fixed.timings.length;
    console.log(
      `worker, fixed-cost model (~${RUN_MS} ms/run), ${SMALL_ITEMS} items of 2 s 320x240, prefetch on: ` +
        `${fixed.ok}/${SMALL_ITEMS} ok, wall ${fixed.wall.toFixed(1)} s, ` +
        `session.run ${fixed.runSeconds.toFixed(1)} s = ${(fixed.runSeconds / fixed.wall).toFixed(2)} of wall`,
    );
    console.log(
      `  mean busy fraction of an item's frame path: ${STAGES.map((s) => `${s} ${mean(s).toFixed(2)}`).join(", ")}`,
    );
  } finally {
    await h.stop();
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) await framesBench();
