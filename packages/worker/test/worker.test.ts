import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { getObjectStream, headObject, OUTPUT_FILE, objectKeys, PIPELINE_VERSION, sha256Hex } from "@mediaq/shared";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { type ItemSpec, startWorkerHarness, type WorkerHarness } from "./helpers.ts";
import { makeAudio, makeVideo } from "../../../test/harness/media.ts";
import { DEMO_MODEL_PATH } from "../scripts/make-demo-model.ts";
import { startWorker, type WorkerHandle } from "../src/index.ts";

const run = promisify(execFile);
const W = 160;
const H = 120;

/** Every frame of a video as rgb24 (the same decode the worker does). */
async function frames(file: string): Promise<Buffer[]> {
  const { stdout } = await run("ffmpeg", ["-v", "error", "-i", file, "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1"], {
    encoding: "buffer",
    maxBuffer: 64 * 1024 * 1024,
  });
  const size = W * H * 3;
  return Array.from({ length: Math.floor(stdout.length / size) }, (_, i) => stdout.subarray(i * size, (i + 1) * size));
}

/** Mean absolute difference of two frames over a rectangle. */
function meanDiff(a: Buffer, b: Buffer, x1: number, y1: number, x2: number, y2: number): number {
  let sum = 0;
  for (let y = y1; y < y2; y++)
    for (let x = x1; x < x2; x++)
      for (let c = 0; c < 3; c++)
        sum += Math.abs((a[(y * W + x) * 3 + c] as number) - (b[(y * W + x) * 3 + c] as number));
  return sum / ((x2 - x1) * (y2 - y1) * 3);
}

describe("inference worker", () => {
  let h: WorkerHarness;
  let worker: WorkerHandle;
  let modelSha: string;
  const files: Record<string, string> = {};
  // The harness's pieces under short names (set in beforeAll).
  let infra: WorkerHarness["infra"];
  let s3: WorkerHarness["s3"];
  let ledger: WorkerHarness["ledger"];
  let queue: WorkerHarness["queue"];
  const putBlob = (bytes: Buffer) => h.putBlob(bytes);
  const submit = (model: string, items: ItemSpec[]) => h.submit(model, items);
  const waitDone = (batchId: string) => h.waitDone(batchId);
  const runs = () => h.runs();
  const scratchEntries = () => h.scratchEntries();
  // Bad-input warnings are expected here; keep the test output to errors.
  const quiet = () => h.config();

  async function download(key: string): Promise<Buffer> {
    const chunks: Buffer[] = [];
    for await (const c of await getObjectStream(s3, infra.config.S3_BUCKET, key)) chunks.push(c as Buffer);
    return Buffer.concat(chunks);
  }

  beforeAll(async () => {
    h = await startWorkerHarness();
    ({ infra, s3, ledger, queue } = h);
    for (const [name, make] of [
      ["video", (f: string) => makeVideo(f, { seconds: 2, width: W, height: H })],
      ["audio", (f: string) => makeAudio(f, { seconds: 2 })],
      ["audio2", (f: string) => makeAudio(f, { seconds: 1, frequency: 330 })],
    ] as const) {
      files[name] = path.join(infra.dir, `${name}.${name === "video" ? "mp4" : "wav"}`);
      await make(files[name] as string);
    }
    modelSha = await putBlob(fs.readFileSync(DEMO_MODEL_PATH));
    worker = await startWorker(quiet());
  });

  afterAll(async () => {
    await worker?.close();
    await h?.stop();
  });

  it("lip-syncs a video to an audio file and records the result", async () => {
    const video = await putBlob(fs.readFileSync(files.video as string));
    const audio = await putBlob(fs.readFileSync(files.audio as string));
    const box: [number, number, number, number] = [50, 20, 60, 70];
    const { batchId, items } = await submit(modelSha, [{ name: "clip", video, audio, params: { box } }]);
    const counts = await waitDone(batchId);
    const [view] = await ledger.batches.itemViews(batchId, 0, 1);
    expect(view?.error).toBeUndefined();
    expect(counts).toEqual({ pending: 0, running: 0, succeeded: 1, failed: 0 });

    const jobKey = items[0]?.jobKey as string;
    // Each attempt writes its own object; the result names the one it hashed.
    const key = (await ledger.jobs.getResult(jobKey))?.key as string;
    expect(key).toMatch(new RegExp(`^${objectKeys.jobOutputsPrefix(jobKey)}[^/]+/${OUTPUT_FILE}$`));
    const head = await headObject(s3, infra.config.S3_BUCKET, key);
    expect(head?.Metadata).toMatchObject({
      jobkey: jobKey,
      video,
      audio,
      model: modelSha,
      adapter: "wav2lip",
      pipeline: PIPELINE_VERSION,
    });
    expect(JSON.parse(head?.Metadata?.params ?? "")).toEqual(items[0]?.params);
    const bytes = await download(key);
    expect(sha256Hex(bytes)).toBe(head?.Metadata?.sha256);
    const result = await ledger.jobs.getResult(jobKey);
    expect(result).toMatchObject({ key, sha256: sha256Hex(bytes), size: bytes.length, model: modelSha });
    // The output says what it is (from the adapter), in the result and the object's metadata.
    const mp4 = { kind: "video", file: OUTPUT_FILE, extension: ".mp4", contentType: "video/mp4" };
    expect(result?.output).toEqual(mp4);
    expect(JSON.parse(head?.Metadata?.output ?? "")).toEqual(mp4);
    expect(JSON.parse(head?.Metadata?.inputs ?? "")).toEqual({ video, audio });
    expect(head?.ContentType).toBe("video/mp4");
    expect(view?.output).toEqual({ sha256: sha256Hex(bytes), size: bytes.length });

    const out = path.join(infra.dir, "out.mp4");
    fs.writeFileSync(out, bytes);
    const { stdout } = await run("ffprobe", ["-v", "error", "-show_streams", "-show_format", "-of", "json", out]);
    const probe = JSON.parse(stdout) as { streams: Record<string, string | number>[]; format: { duration: string } };
    const v = probe.streams.find((s) => s.codec_type === "video");
    expect(v).toMatchObject({ codec_name: "h264", width: W, height: H, pix_fmt: "yuv420p" });
    expect(probe.streams.some((s) => s.codec_type === "audio")).toBe(true);
    expect(Number(probe.format.duration)).toBeGreaterThan(1.9);
    expect(Number(probe.format.duration)).toBeLessThan(2.15);

    const input = await frames(files.video as string);
    const output = await frames(out);
    expect(output.length).toBe(input.length);
    // The demo model darkens the mouth: lower middle of the crop (x 50..110, y 20..100).
    const mouth = output.map((f, i) => meanDiff(f, input[i] as Buffer, 70, 70, 90, 85));
    // The audio never goes silent, so the mouth is open in every frame.
    expect(Math.min(...mouth)).toBeGreaterThan(30);
    // Far from the crop only H.264 re-encoding noise remains.
    const outside = output.map((f, i) => meanDiff(f, input[i] as Buffer, 0, 0, 40, H));
    expect(Math.max(...outside)).toBeLessThan(8);

    expect(await runs()).toBe(1);
    expect(scratchEntries()).toEqual([]);

    // The same work queued again finds its result and runs nothing.
    await queue.getJob(jobKey).then((j) => j?.remove());
    const again = await submit(modelSha, [{ name: "again", video, audio, params: { box } }]);
    expect(await waitDone(again.batchId)).toMatchObject({ succeeded: 1 });
    expect(await runs()).toBe(1);
  });

  it("fails bad items alone with a readable reason and no retries", async () => {
    const before = await runs();
    const video = await putBlob(fs.readFileSync(files.video as string));
    const audio = await putBlob(fs.readFileSync(files.audio2 as string));
    const empty = await putBlob(Buffer.alloc(0));
    const { batchId, items } = await submit(modelSha, [
      { name: "empty-video", video: empty, audio },
      { name: "good", video, audio },
      { name: "audio-as-video", video: audio, audio },
      { name: "box-outside", video, audio, params: { box: [150, 100, 40, 40] } },
    ]);
    expect(await waitDone(batchId)).toEqual({ pending: 0, running: 0, succeeded: 1, failed: 3 });
    const views = await ledger.batches.itemViews(batchId, 0, 4);
    expect(views.map((v) => v.state)).toEqual(["failed", "succeeded", "failed", "failed"]);
    expect(views[0]?.error).toMatch(/video input [0-9a-f]{12} is empty \(0 bytes\)/);
    expect(views[2]?.error).toMatch(/video input [0-9a-f]{12} has no video stream \(streams found: audio\)/);
    expect(views[3]?.error).toMatch(/face box \[150, 100, 40, 40\].*outside the 160x120 video frame/);
    for (const i of [0, 2, 3]) {
      const job = await queue.getJob(items[i]?.jobKey as string);
      // The ledger records the failure just before BullMQ moves the job to failed.
      for (let t = 0; t < 50 && (await job?.getState()) !== "failed"; t++) await new Promise((r) => setTimeout(r, 50));
      expect(await job?.getState()).toBe("failed");
      // Read again: the object fetched above may predate the move to failed.
      const failed = await queue.getJob(items[i]?.jobKey as string);
      expect(failed?.attemptsMade).toBe(1); // JOB_ATTEMPTS is 2: UnrecoverableError skipped the retry
    }
    expect(await runs()).toBe(before + 1);
    expect(scratchEntries()).toEqual([]);
  });

  it("fails clearly when the model is not ONNX", async () => {
    const notOnnx = await putBlob(randomBytes(4096));
    const video = await putBlob(fs.readFileSync(files.video as string));
    const audio = await putBlob(fs.readFileSync(files.audio as string));
    const { batchId, items } = await submit(notOnnx, [{ name: "x", video, audio }]);
    expect(await waitDone(batchId)).toMatchObject({ failed: 1 });
    const [view] = await ledger.batches.itemViews(batchId, 0, 1);
    expect(view?.error).toMatch(/model [0-9a-f]{12} could not be loaded by onnxruntime \(is it an ONNX model\?\)/);
    // The ledger says failed before the processor's cleanup ends; BullMQ marks the job failed after it.
    const jobKey = items[0]?.jobKey as string;
    await vi.waitFor(async () => expect(await queue.getJobState(jobKey)).toBe("failed"), { timeout: 10_000 });
    expect(scratchEntries()).toEqual([]);
  });

  it("hands the running job back to the queue when stopped, and a new worker finishes it", async () => {
    const long = path.join(infra.dir, "long.mp4");
    await makeVideo(long, { seconds: 8, width: W, height: H, frequency: 550 });
    const video = await putBlob(fs.readFileSync(long));
    const audio = await putBlob(fs.readFileSync(files.audio as string));
    // Batches of 2 frames over the whole 8 s clip (length=video): 100 model calls, so
    // inference lasts well past the moment it is seen.
    await worker.close();
    worker = await startWorker(h.config({ INFERENCE_BATCH_SIZE: 2 }));
    const { batchId, items } = await submit(modelSha, [{ name: "long", video, audio, params: { length: "video" } }]);
    const jobKey = items[0]?.jobKey as string;
    const runsBefore = await runs();
    const waitFor = async (what: string, ok: () => Promise<boolean>) => {
      const until = Date.now() + 30_000;
      while (!(await ok())) {
        if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    const expectHandedBack = async () => {
      expect((await ledger.jobs.state(jobKey)).state).toBe("pending");
      const job = await queue.getJob(jobKey);
      expect(await job?.getState()).toBe("waiting");
      expect(job?.attemptsMade).toBe(0);
      expect(await runs()).toBe(runsBefore);
      expect(scratchEntries()).toEqual([]);
    };

    // Stopped in the middle of inference (a known stage, far from recording the result):
    // the batch in flight on the inference thread completes, then the job goes back.
    await waitFor("inference progress", async () => {
      const progress = (await queue.getJob(jobKey))?.progress as { stage?: string; done?: number } | undefined;
      return progress?.stage === "infer" && (progress.done ?? 0) > 0;
    });
    await worker.close({ handBackAfterMs: 0 });
    await expectHandedBack();

    // Stopped just after it started on a fresh worker, whose inference thread is still
    // starting and loading the model: the process must survive the thread being closed.
    worker = await startWorker(quiet());
    await waitFor("running", async () => (await ledger.jobs.state(jobKey)).state === "running");
    await worker.close({ handBackAfterMs: 0 });
    await expectHandedBack();

    worker = await startWorker(quiet());
    expect(await waitDone(batchId)).toMatchObject({ succeeded: 1 });
    expect(await runs()).toBe(runsBefore + 1);
  });
});
