import path from "node:path";
import { type FaceTrack, readFaceTrack, redisKeys } from "@mediaq/shared";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  DEFAULT_FOOTAGE,
  type FaceFootage,
  faceBoxAt,
  fullyVisible,
  makeFaceFootage,
  makeSpeech,
  portraitVisible,
  scaledFootage,
} from "../../../test/harness/face-footage.ts";
import { decodeAll, makeRotatedVideo, makeVideo } from "../../../test/harness/media.ts";
import { DEMO_MODEL_PATH } from "../scripts/make-demo-model.ts";
import { iou } from "../src/face/detections.ts";
import { startWorker, type WorkerHandle } from "../src/index.ts";
import { startWorkerHarness, type WorkerHarness } from "./helpers.ts";

const asBox = (b: readonly number[]) => ({ xmin: b[0] ?? 0, ymin: b[1] ?? 0, xmax: b[2] ?? 0, ymax: b[3] ?? 0 });
const NO_BOX = { box: null };

/**
 * The track against the ground truth carried along the footage's path: the share of frames
 * where the face is fully visible with IoU >= 0.7; frames where the portrait is wholly out
 * of view must have no box.
 */
function accuracy(track: FaceTrack, f: FaceFootage, label: string): { visible: number; share: number } {
  let visible = 0;
  let good = 0;
  const ious: number[] = [];
  track.boxes.forEach((box, n) => {
    const t = n / f.fps;
    const truth = faceBoxAt(f.path, t);
    if (!portraitVisible(f.path, t, f.width, f.height)) {
      expect(box, `frame ${n}: the portrait is out of the frame`).toBeNull();
      return;
    }
    if (!fullyVisible(truth, f.width, f.height)) return;
    visible++;
    const v = box ? iou(asBox(box), asBox(truth)) : 0;
    ious.push(v);
    if (v >= 0.7) good++;
  });
  const share = good / visible;
  console.log(
    `face track (${label}): IoU >= 0.7 on ${good}/${visible} fully visible frames (${(share * 100).toFixed(1)}%), ` +
      `min IoU ${Math.min(...ious).toFixed(3)}, ${track.framesWithoutFace} frames without a face`,
  );
  return { visible, share };
}

describe("face tracks", () => {
  let h: WorkerHarness;
  let worker: WorkerHandle;
  let model: string;
  const detections = async () => Number((await h.redis.get(redisKeys.detectionRuns)) ?? 0);
  const trackOf = async (trackKey: string) => {
    const record = await h.ledger.tracks.get(trackKey);
    return readFaceTrack(h.s3, h.infra.config.S3_BUCKET, record as { key: string });
  };

  beforeAll(async () => {
    h = await startWorkerHarness();
    model = await h.putFile(DEMO_MODEL_PATH);
    worker = await startWorker(h.config());
  }, 120_000);

  afterAll(async () => {
    await worker?.close();
    await h?.stop();
  });

  it("follows the astronaut's face along its known path (IoU >= 0.7 on >= 95% of fully visible frames)", async () => {
    const f = DEFAULT_FOOTAGE;
    const file = path.join(h.infra.dir, "astronaut.mp4");
    makeFaceFootage(file, f);
    const speech = path.join(h.infra.dir, "speech.wav");
    makeSpeech(speech, "Houston, the face detector follows me across the frame and back again.");
    const [video, audio] = await Promise.all([h.putFile(file), h.putFile(speech)]);
    const { batchId } = await h.submit(model, [{ name: "astronaut", video, audio, params: NO_BOX }]);
    const counts = await h.waitDone(batchId, 240_000);
    const [view] = await h.ledger.batches.itemViews(batchId, 0, 1);
    expect(view?.error).toBeUndefined();
    expect(counts.succeeded).toBe(1);

    const track = await trackOf(view?.face?.trackKey as string);
    expect(track.frames).toBe(f.fps * f.seconds);
    const { visible, share } = accuracy(track, f, "landscape");
    expect(visible).toBeGreaterThan(100);
    expect(share).toBeGreaterThanOrEqual(0.95);
    // The stretch where the portrait is out of the frame passes through and is reported.
    expect(track.framesWithoutFace).toBeGreaterThanOrEqual(25);
    expect(view?.face?.framesWithoutFace).toBe(track.framesWithoutFace);
  }, 300_000);

  it("follows the face of a phone clip stored sideways (rotation 90) in upright pixels; the output is upright", async () => {
    // Upright 360x640 (a phone held upright); the portrait drifts down and to the side.
    const f: FaceFootage = {
      width: 360,
      height: 640,
      fps: 25,
      seconds: 4,
      path: [
        { t: 0, x: 20, y: 40, size: 300 },
        { t: 2, x: 60, y: 200, size: 260 },
        { t: 4, x: 10, y: 300, size: 280 },
      ],
    };
    const upright = path.join(h.infra.dir, "phone-upright.mp4");
    makeFaceFootage(upright, f);
    const phone = path.join(h.infra.dir, "phone.mp4");
    await makeRotatedVideo(phone, { clockwise: 90, via: "matrix", width: f.width, height: f.height, from: upright });
    const speech = path.join(h.infra.dir, "phone.wav");
    makeSpeech(speech, "Recorded on a phone, held upright.");
    const [video, audio] = await Promise.all([h.putFile(phone), h.putFile(speech)]);
    const { batchId, items } = await h.submit(model, [
      { name: "phone", video, audio, params: { ...NO_BOX, length: "video" } },
    ]);
    expect(await h.waitDone(batchId, 240_000)).toMatchObject({ succeeded: 1 });
    const [view] = await h.ledger.batches.itemViews(batchId, 0, 1);
    const track = await trackOf(view?.face?.trackKey as string);
    expect([track.width, track.height]).toEqual([f.width, f.height]);
    const { visible, share } = accuracy(track, f, "rotation 90");
    expect(visible).toBeGreaterThan(80);
    expect(share).toBeGreaterThanOrEqual(0.95);
    const output = await decodeAll(await h.downloadOutput(items[0]?.jobKey as string, "phone-out.mp4"));
    expect([output.width, output.height]).toEqual([f.width, f.height]);
  }, 300_000);

  it("detects once for 20 items on one clip, and zero times for a second batch", async () => {
    const f = { ...scaledFootage(DEFAULT_FOOTAGE, 320, 180), seconds: 1 };
    const file = path.join(h.infra.dir, "short.mp4");
    makeFaceFootage(file, f);
    const video = await h.putFile(file);
    const audios: string[] = [];
    for (let i = 0; i < 20; i++) {
      const wav = path.join(h.infra.dir, `say-${i}.wav`);
      makeSpeech(wav, `Line number ${i + 1}.`, { speed: 200 + i * 5 });
      audios.push(await h.putFile(wav));
    }
    const items = (bottomPad: number) =>
      audios.map((audio, i) => ({
        name: `line-${i}`,
        video,
        audio,
        params: { ...NO_BOX, pads: [0, bottomPad, 0, 0] },
      }));
    const before = await detections();
    const runsBefore = await h.runs();
    const first = await h.submit(model, items(10));
    expect(await h.waitDone(first.batchId, 300_000)).toMatchObject({ succeeded: 20, failed: 0 });
    expect(await detections()).toBe(before + 1);
    const views = await h.ledger.batches.itemViews(first.batchId, 0, 20);
    const trackKeys = new Set(views.map((v) => v.face?.trackKey));
    expect(trackKeys.size).toBe(1);
    expect(Number(await h.redis.hget(redisKeys.track([...trackKeys][0] as string), "runs"))).toBe(1);

    // Other params (new job keys, same track key): every item runs again, detection does not.
    const second = await h.submit(model, items(8));
    expect(await h.waitDone(second.batchId, 300_000)).toMatchObject({ succeeded: 20, failed: 0 });
    expect(await detections()).toBe(before + 1);
    expect(await h.runs()).toBe(runsBefore + 40);
  }, 600_000);

  it("fails an item whose video has no face in any frame, with a reason a person understands", async () => {
    const file = path.join(h.infra.dir, "faceless.mp4");
    await makeVideo(file, { seconds: 1, width: 160, height: 120 });
    const speech = path.join(h.infra.dir, "hello.wav");
    makeSpeech(speech, "Hello.");
    const [video, audio] = await Promise.all([h.putFile(file), h.putFile(speech)]);
    const { batchId } = await h.submit(model, [{ name: "faceless", video, audio, params: NO_BOX }]);
    expect(await h.waitDone(batchId, 120_000)).toMatchObject({ failed: 1 });
    const [view] = await h.ledger.batches.itemViews(batchId, 0, 1);
    expect(view?.error).toMatch(/no face was found in any of the \d+ frames of video input .*params\.box/);
  }, 180_000);
});
