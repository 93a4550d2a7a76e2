/**
 * The frame path against ffmpeg alone, in one run, on a 1280x720 25 fps 20 s testsrc2 clip
 * (500 frames) with 20 s of audio:
 * - baseline: `ffmpeg decode | ffmpeg encode` through an rgb24 pipe with the worker's own
 *   encoder arguments (timed before and after the worker; the mean is the baseline);
 * - the demo model through one in-process worker (box [480,200,320,320]): frames/s of the
 *   frame path (the `infer` stage), the ratio to ffmpeg alone, and each stage's busy
 *   fraction of the frame path's wall time (decode, preprocess, session.run, paste, encode);
 * - the fixed-cost model (~0.4 s per session.run, scripts/test-models.ts) on a batch of
 *   items with prefetch on: the fraction of the worker's wall time spent inside session.run.
 *
 * Run: pnpm bench frames   (FRAMES_BENCH_ITEMS=n sets the fixed-cost batch, default 3)
 */
import { spawn } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { calibratedFixedCostModel } from "../../packages/worker/scripts/test-models.ts";
import { DEMO_MODEL_PATH } from "../../packages/worker/scripts/make-demo-model.ts";
import { startWorker } from "../../packages/worker/src/index.ts";
import { encoderArgs } from "../../packages/worker/src/media/encode.ts";
import { inferenceSpansKey } from "../../packages/worker/src/processor.ts";
import { startWorkerHarness, type WorkerHarness } from "../../packages/worker/test/helpers.ts";
import { makeAudio, makeVideo } from "../harness/media.ts";

const W = 1280;
const H = 720;
const FPS = 25;
const SECONDS = 20;
const FRAMES = FPS * SECONDS;
const BOX = [480, 200, 320, 320];
const RUN_MS = 400;
const STAGES = ["decode", "preprocess", "inference", "paste", "encode"] as const;

/** `ffmpeg decode | ffmpeg encode` of the clip; resolves with the wall seconds. */
function ffmpegOnly(video: string, audio: string, out: string): Promise<number> {
  const started = performance.now();
  const decoder = spawn("ffmpeg", [
    ...["-hide_banner", "-loglevel", "error", "-nostdin", "-i", video],
    ...["-an", "-pix_fmt", "rgb24", "-r", String(FPS), "-f", "rawvideo", "pipe:1"],
  ]);
  const encoder = spawn("ffmpeg", [
    ...["-hide_banner", "-loglevel", "error", "-y"],
    ...["-f", "rawvideo", "-pix_fmt", "rgb24", "-video_size", `${W}x${H}`, "-framerate", String(FPS), "-i", "pipe:0"],
    ...["-i", audio],
    ...encoderArgs("libx264"),
    out,
  ]);
  decoder.stdout.pipe(encoder.stdin);
  const exited = (p: ReturnType<typeof spawn>, name: string) =>
    new Promise<void>((resolve, reject) =>
      p.on("close", (code) => (code === 0 ? resolve() : reject(new Error(`${name} exited with ${code}`)))),
    );
  return Promise.all([exited(decoder, "decoder"), exited(encoder, "encoder")]).then(
    () => (performance.now() - started) / 1000,
  );
}

interface Timings {
  infer?: number;
  inference?: number;
  [stage: string]: number | undefined;
}

async function runItems(h: WorkerHarness, model: string, items: { video: string; audio: string }[], prefetch: boolean) {
  const worker = await startWorker(h.config(), { prefetch });
  try {
    const started = Date.now();
    const { batchId, items: submitted } = await h.submit(
      model,
      items.map((i, n) => ({ name: `i${n}`, ...i, params: { box: BOX } })),
    );
    const counts = await h.waitDone(batchId, 1_800_000);
    const wall = (Date.now() - started) / 1000;
    const results = await Promise.all(submitted.map((i) => h.ledger.getResult(i.jobKey)));
    const spans = (await h.redis.lrange(inferenceSpansKey(worker.workerId), 0, -1)).map(
      (s) => JSON.parse(s) as { runSeconds: number },
    );
    return {
      ok: counts.succeeded,
      wall,
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
    const items = Number(process.env.FRAMES_BENCH_ITEMS ?? 3);
    for (let i = 0; i <= items; i++) await makeAudio(f(`a${i}.wav`), { seconds: SECONDS, frequency: 180 + 20 * i });
    const video = await h.putFile(f("clip.mp4"));
    const audios = await Promise.all(Array.from({ length: items + 1 }, (_, i) => h.putFile(f(`a${i}.wav`))));

    // Demo model, one item, between two ffmpeg-only runs (the machine's load drifts).
    const before = await ffmpegOnly(f("clip.mp4"), f("a0.wav"), f("ffmpeg-1.mp4"));
    const demo = await runItems(h, await h.putFile(DEMO_MODEL_PATH), [{ video, audio: audios[0] as string }], false);
    const after = await ffmpegOnly(f("clip.mp4"), f("a0.wav"), f("ffmpeg-2.mp4"));
    const baseline = (before + after) / 2;
    const t = demo.timings[0] as Timings;
    const frameWall = t.infer ?? Number.NaN;
    console.log(
      `ffmpeg decode | encode: ${before.toFixed(2)} s and ${after.toFixed(2)} s, mean ${(FRAMES / baseline).toFixed(1)} frames/s`,
    );
    console.log(
      `worker, demo model: ${demo.ok}/1 ok, frame path ${frameWall.toFixed(2)} s = ${(FRAMES / frameWall).toFixed(1)} frames/s, ` +
        `ratio ${(baseline / frameWall).toFixed(2)}x of ffmpeg alone (job wall ${demo.wall.toFixed(1)} s)`,
    );
    console.log(`  busy fraction of the frame path: ${STAGES.map((s) => `${s} ${pct(t[s], frameWall)}`).join(", ")}`);

    // Fixed-cost model, a batch with prefetch on: how busy the card is kept.
    const fixed = await runItems(
      h,
      await h.putBlob(Buffer.from(await calibratedFixedCostModel(RUN_MS))),
      audios.slice(1).map((audio) => ({ video, audio })),
      true,
    );
    const busy = fixed.timings.map((x) =>
      STAGES.map((s) => `${s} ${pct(x[s], x.infer ?? Number.NaN)}`).join(", "),
    );
    console.log(
      `worker, fixed-cost model (~${RUN_MS} ms/run), ${items} items, prefetch on: ${fixed.ok}/${items} ok, ` +
        `wall ${fixed.wall.toFixed(1)} s, session.run ${fixed.runSeconds.toFixed(1)} s = ${(fixed.runSeconds / fixed.wall).toFixed(2)} of wall`,
    );
    for (const [i, line] of busy.entries()) console.log(`  item ${i} busy fraction of its frame path: ${line}`);
  } finally {
    await h.stop();
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) await framesBench();
