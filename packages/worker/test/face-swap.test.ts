/**
 * Face swap end to end through the queue (docs/architecture.md#face-swap): a real worker,
 * Redis and S3, the shipped BlazeFace, and models built in code with the exact signatures
 * (scripts/face-swap-models.ts), over the moving astronaut footage with speech.
 */
import { execFileSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import path from "node:path";
import {
  type AdapterName,
  createFaceTrackQueue,
  createRedis,
  redisKeys,
  submitBatch,
  toBatchItem,
} from "@mediaq/shared";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  astronautPng,
  DEFAULT_FOOTAGE,
  faceBoxAt,
  fullyVisible,
  makeFaceFootage,
  makeSpeech,
  portraitVisible,
  lumaChangedOutside,
} from "../../../test/harness/face-footage.ts";
import {
  buildArcFaceStandIn,
  buildIdentitySwapper,
  buildPaintingSwapper,
  buildWrongSwapper,
  paintColour,
  TEST_EMAP,
} from "../scripts/face-swap-models.ts";
import { identityJobOf, readIdentity } from "../src/adapters/arcface/identity-job.ts";
import { swapperSource } from "../src/adapters/inswapper/emap.ts";
import { startWorker, type WorkerHandle } from "../src/index.ts";
import { yuvLayout } from "../src/media/yuv.ts";
import { startWorkerHarness, type WorkerHarness } from "./helpers.ts";

const f = DEFAULT_FOOTAGE;
const layout = yuvLayout(f.width, f.height);
const TENANT = "t1";
const DETECTOR = "427cbbe0fc41448d09e1dc9cfabe2423d997cf2faaeab91fadd09a510b63b8e2";

function decode(file: string): Uint8Array[] {
  const out = execFileSync("ffmpeg", ["-v", "error", "-i", file, "-f", "rawvideo", "-pix_fmt", "yuv420p", "-"], {
    maxBuffer: 1 << 30,
  });
  return Array.from(
    { length: out.length / layout.frameBytes },
    (_, i) => new Uint8Array(out.subarray(i * layout.frameBytes, (i + 1) * layout.frameBytes)),
  );
}

const ffmpeg = (...args: string[]) => execFileSync("ffmpeg", ["-v", "error", "-y", ...args]);
const probe = (file: string, entries: string) =>
  execFileSync("ffprobe", ["-v", "error", "-show_entries", entries, "-of", "csv=p=0", file]).toString().trim();

/** Face-region luma PSNR over the frames where the face is fully in view. */
function faceRegionPsnr(output: Uint8Array[], input: Uint8Array[]): number {
  let sum = 0;
  let n = 0;
  for (const [i, frame] of output.entries()) {
    const box = faceBoxAt(f.path, i / f.fps);
    if (!fullyVisible(box, f.width, f.height)) continue;
    const [x1, y1, x2, y2] = box.map(Math.round) as [number, number, number, number];
    for (let y = y1; y < y2; y++)
      for (let x = x1; x < x2; x++) {
        sum += ((frame[y * f.width + x] as number) - ((input[i] as Uint8Array)[y * f.width + x] as number)) ** 2;
        n++;
      }
  }
  return 10 * Math.log10((255 * 255) / (sum / n));
}

describe("face swap through the queue", () => {
  let h: WorkerHarness;
  let worker: WorkerHandle | undefined;
  const blobs: Record<string, string> = {};
  let clip: string;
  let input: Uint8Array[];

  const submit = async (model: string, items: { name: string; video?: string; face: string; params?: object }[]) => {
    const adapter: AdapterName = "inswapper";
    const batch = { id: randomUUID(), tenant: TENANT, model, adapter, params: {}, createdAt: new Date().toISOString() };
    const batchItems = items.map((i) =>
      toBatchItem(
        { scope: TENANT, modelSha256: model, adapter },
        {
          name: i.name,
          inputs: { video: i.video ?? (blobs.video as string), face: i.face },
          params: { recognizer: blobs.recognizer, ...i.params },
        },
      ),
    );
    await submitBatch(h.ledger, h.queue, batch, batchItems);
    return { batchId: batch.id, items: batchItems };
  };
  const views = async (batchId: string, n: number) => h.ledger.batches.itemViews(batchId, 0, n);
  const useWorker = async (over: Record<string, unknown> = {}) => {
    await worker?.close();
    worker = await startWorker(h.config(over));
  };

  beforeAll(async () => {
    h = await startWorkerHarness();
    const dir = h.infra.dir;
    const silent = path.join(dir, "astronaut-silent.mp4");
    makeFaceFootage(silent, f);
    const speech = path.join(dir, "speech.wav");
    makeSpeech(speech, "Houston, my face is being swapped while I drift across the frame.");
    clip = path.join(dir, "astronaut.mp4");
    // The speech padded with silence to the video's length.
    ffmpeg(
      "-i",
      silent,
      "-i",
      speech,
      "-map",
      "0:v",
      "-map",
      "1:a",
      "-c:v",
      "copy",
      "-af",
      "apad",
      "-c:a",
      "aac",
      "-shortest",
      clip,
    );
    input = decode(clip);
    const flipped = path.join(dir, "flipped.png");
    ffmpeg("-i", astronautPng(), "-vf", "hflip,hue=h=40", flipped);
    const two = path.join(dir, "two.png");
    ffmpeg(
      "-i",
      astronautPng(),
      "-i",
      astronautPng(),
      "-filter_complex",
      "[1]scale=256:256,pad=512:512:128:128[s];[0][s]hstack",
      two,
    );
    const blank = path.join(dir, "blank.png");
    ffmpeg("-f", "lavfi", "-i", "color=c=0x2a4d69:s=320x240", "-frames:v", "1", blank);
    const files: Record<string, string> = { video: clip, silent, face: astronautPng(), flipped, two, blank, speech };
    const built: Record<string, Uint8Array> = {
      identity: buildIdentitySwapper(),
      painting: buildPaintingSwapper(),
      wrong: buildWrongSwapper(),
      recognizer: buildArcFaceStandIn(),
    };
    for (const [name, file] of Object.entries(files)) blobs[name] = await h.putFile(file);
    for (const [name, bytes] of Object.entries(built)) blobs[name] = await h.putBlob(Buffer.from(bytes));
  }, 180_000);

  afterAll(async () => {
    await worker?.close();
    await h?.stop();
  });

  for (const [lossless, bound] of [
    [true, 35],
    [false, 30],
  ] as const)
    it(`gives the video back with the identity swapper (face-region PSNR >= ${bound} dB, VIDEO_LOSSLESS=${lossless}), as long as the video, its audio kept`, async () => {
      await useWorker({ VIDEO_LOSSLESS: lossless });
      // VIDEO_LOSSLESS is the worker's, not in the job key: another blend makes it another job.
      const { batchId, items } = await submit(blobs.identity as string, [
        { name: "same", face: blobs.face as string, params: { blend: lossless ? 0.3 : 0.25 } },
      ]);
      expect(await h.waitDone(batchId, 240_000)).toMatchObject({ succeeded: 1 });
      const [view] = await views(batchId, 1);
      expect(view?.face?.framesWithoutFace).toBeGreaterThanOrEqual(25);
      const out = await h.downloadOutput(items[0]?.jobKey as string, `identity-${lossless}.mp4`);
      const frames = decode(out);
      expect(frames.length).toBe(input.length);
      expect(probe(out, "stream=codec_type")).toContain("audio");
      const psnr = faceRegionPsnr(frames, input);
      console.log(
        `identity swap through the queue, VIDEO_LOSSLESS=${lossless}: face-region PSNR ${psnr.toFixed(1)} dB`,
      );
      expect(psnr).toBeGreaterThanOrEqual(bound);
    }, 300_000);

  it("paints only the moving face in the colour of source = normalize(embedding) x emap; two sources, two colours; faceless frames unchanged", async () => {
    await useWorker({ VIDEO_LOSSLESS: true });
    const { batchId, items } = await submit(blobs.painting as string, [
      { name: "astronaut", face: blobs.face as string },
      { name: "flipped", face: blobs.flipped as string },
    ]);
    expect(await h.waitDone(batchId, 240_000)).toMatchObject({ succeeded: 2 });
    const colours: number[] = [];
    for (const [k, image] of [blobs.face, blobs.flipped].entries()) {
      const wanted = identityJobOf(h.infra.config, TENANT, {
        image: image as string,
        recognizer: blobs.recognizer as string,
        detector: DETECTOR,
        faceMinScore: null,
      });
      const stored = await readIdentity(h.s3, h.infra.config.S3_BUCKET, wanted.identityKey);
      if (!stored || "error" in stored) throw new Error("no identity stored");
      const [r, g, b] = paintColour(swapperSource(stored.embedding, TEST_EMAP)).map((v) => Math.round(v * 255)) as [
        number,
        number,
        number,
      ];
      const expectedY = 16 + (65.481 * r + 128.553 * g + 24.966 * b) / 255;
      const frames = decode(await h.downloadOutput(items[k]?.jobKey as string, `painted-${k}.mp4`));
      let faceless = 0;
      const centres: number[] = [];
      for (const [i, frame] of frames.entries()) {
        const t = i / f.fps;
        const before = input[i] as Uint8Array;
        if (!portraitVisible(f.path, t, f.width, f.height)) {
          faceless++;
          expect(Buffer.compare(frame, before), `frame ${i} has no face`).toBe(0);
          continue;
        }
        const [x1, y1, x2, y2] = faceBoxAt(f.path, t);
        const outside = lumaChangedOutside(frame, before, [x1, y1, x2, y2], f.width, f.height);
        expect(outside, `frame ${i}: luma changed outside the face`).toBe(0);
        if (fullyVisible([x1, y1, x2, y2], f.width, f.height))
          centres.push(frame[Math.round((y1 + y2) / 2) * f.width + Math.round((x1 + x2) / 2)] as number);
      }
      expect(faceless).toBeGreaterThanOrEqual(25);
      const mean = centres.reduce((a, v) => a + v, 0) / centres.length;
      expect(Math.abs(mean - expectedY)).toBeLessThanOrEqual(2);
      colours.push(mean);
    }
    expect(Math.abs((colours[0] as number) - (colours[1] as number))).toBeGreaterThan(10);
  }, 300_000);

  it("runs the recognizer once for 20 items with one source face on 2 videos, and detects each video's track once", async () => {
    await useWorker();
    const detections = async () => Number((await h.redis.get(redisKeys.detectionRuns)) ?? 0);
    const tracksBefore = await detections();
    const items = Array.from({ length: 20 }, (_, i) => ({
      name: `item-${i}`,
      video: (i % 2 === 0 ? blobs.video : blobs.silent) as string,
      face: blobs.flipped as string,
      params: { blend: 0.1 + i / 100 }, // 20 distinct jobs
    }));
    const { batchId } = await submit(blobs.identity as string, items);
    expect(await h.waitDone(batchId, 600_000)).toMatchObject({ succeeded: 20 });
    // The silent video's track is new; the other one's was made by the tests before.
    expect((await detections()) - tracksBefore).toBe(1);
    const queueRedis = createRedis(h.infra.config);
    const tracks = createFaceTrackQueue(queueRedis, h.infra.config);
    const identityKey = identityJobOf(h.infra.config, TENANT, {
      image: blobs.flipped as string,
      recognizer: blobs.recognizer as string,
      detector: DETECTOR,
      faceMinScore: null,
    }).identityKey;
    const job = await tracks.getJob(identityKey);
    // Computed by the painting test's batch, never again: no identity job was queued since.
    expect(job?.returnvalue).toMatchObject({ computed: true });
    expect(job?.finishedOn).toBeLessThan(Date.now() - 1000);
    const identityJobs = (await tracks.getJobs(["completed", "failed", "waiting", "active", "delayed"])).filter(
      (j) =>
        (j.data as { kind?: string }).kind === "identity" && (j.data as { image?: string }).image === blobs.flipped,
    );
    expect(identityJobs.length).toBe(1);
    await tracks.close();
    queueRedis.disconnect();
  }, 700_000);

  it("has a track stored before keypoints (format 1) detected again under its key when a swap item needs it", async () => {
    await useWorker();
    const warm = await submit(blobs.identity as string, [{ name: "warm", face: blobs.face as string }]);
    await h.waitDone(warm.batchId, 240_000);
    const [done] = await views(warm.batchId, 1);
    const trackKey = done?.face?.trackKey as string;
    const record = await h.ledger.tracks.get(trackKey);
    if (!record) throw new Error("no track record");
    // The track as a worker before keypoints left it: no format, no keypoints.
    const { format: _, ...old } = record;
    await h.ledger.tracks.record(old);
    const detections = async () => Number((await h.redis.get(redisKeys.detectionRuns)) ?? 0);
    const before = await detections();
    const { batchId } = await submit(blobs.identity as string, [
      { name: "after-upgrade", face: blobs.face as string, params: { blend: 0.2 } },
    ]);
    expect(await h.waitDone(batchId, 240_000)).toMatchObject({ succeeded: 1 });
    expect((await detections()) - before).toBe(1);
    expect((await h.ledger.tracks.get(trackKey))?.format).toBe(2);
    const [view] = await views(batchId, 1);
    expect(view?.face?.trackKey).toBe(trackKey); // the same key, the track replaced
  }, 400_000);

  it("fails bad inputs alone, each with its reason, and says which face of several it used", async () => {
    await useWorker();
    const { batchId } = await submit(blobs.painting as string, [
      { name: "no-face", face: blobs.blank as string },
      { name: "not-an-image", face: blobs.speech as string },
      { name: "video-as-face", face: blobs.silent as string },
      { name: "bad-recognizer", face: blobs.face as string, params: { recognizer: blobs.identity } },
      { name: "two-faces", face: blobs.two as string },
    ]);
    const bad = await submit(blobs.wrong as string, [{ name: "bad-swapper", face: blobs.face as string }]);
    expect(await h.waitDone(batchId, 300_000)).toMatchObject({ succeeded: 1, failed: 4 });
    expect(await h.waitDone(bad.batchId, 120_000)).toMatchObject({ failed: 1 });
    const byName = Object.fromEntries((await views(batchId, 5)).map((v) => [v.name, v]));
    expect(byName["no-face"]?.error).toMatch(/no face was found in face input [0-9a-f]{12} \(the source face image\)/);
    expect(byName["not-an-image"]?.error).toMatch(/face input [0-9a-f]{12} is not a PNG or JPEG image/);
    expect(byName["video-as-face"]?.error).toMatch(/is not a PNG or JPEG image \(it is h264/);
    expect(byName["bad-recognizer"]?.error).toMatch(
      /does not fit the arcface adapter, which needs input \[1,3,112,112\].*the model has inputs target \[1,3,128,128\]/,
    );
    expect(byName["two-faces"]?.error).toBeUndefined();
    expect(byName["two-faces"]?.face?.note).toBe("the source image has 2 faces; the largest was used");
    const [swapper] = await views(bad.batchId, 1);
    expect(swapper?.error).toMatch(
      /does not fit the inswapper adapter, which needs inputs target \[1,3,128,128\].*the model has inputs target \[1,3,256,256\]/,
    );
  }, 400_000);
});
