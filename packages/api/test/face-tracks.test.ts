import {
  computeTrackKey,
  createS3,
  DEFAULT_FACE_DETECTOR,
  type FaceTrack,
  faceTrackParamsSchema,
  objectKeys,
  putStream,
} from "@mediaq/shared";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { postJson, problemOf, putBlob, randomBlob, startTestApi, type TestApi, uploadModel } from "./helpers.ts";

describe("face tracks and detectors through the API", () => {
  let t: TestApi;
  beforeAll(async () => {
    t = await startTestApi();
  });
  afterAll(async () => t?.stop());

  /** Stores a track as the worker's face-track job does (S3 object + ledger index). */
  async function storeTrack(scope: string, video: string): Promise<FaceTrack> {
    const params = faceTrackParamsSchema.parse({});
    const trackKey = computeTrackKey({ scope, video, params });
    const boxes: FaceTrack["boxes"] = [[10, 12, 50, 56], null, [11, 12, 51, 56]];
    const track: FaceTrack = {
      format: 2,
      trackKey,
      video,
      detector: params.detector,
      params,
      width: 160,
      height: 120,
      fps: 25,
      frames: 3,
      framesWithoutFace: 1,
      boxes,
      keypoints: boxes.map((b) => (b ? [20, 25, 40, 25, 30, 35, 30, 45, 10, 30, 50, 30] : null)),
    };
    const s3 = createS3(t.infra.config);
    const key = objectKeys.track(trackKey);
    await putStream(s3, { bucket: t.infra.config.S3_BUCKET, key, body: JSON.stringify(track) });
    s3.destroy();
    const { boxes: _, keypoints: __, ...summary } = track;
    await t.ledger.tracks.record({ ...summary, key, completedAt: new Date().toISOString() });
    return track;
  }

  it("shows a video's face track to the tenant that has the blob, and 404 to another", async () => {
    const bytes = randomBlob(256);
    const video = await putBlob(t.acme, bytes);
    expect((await t.acme(`/v1/blobs/${video}/face-track`)).status).toBe(404); // not computed yet
    const track = await storeTrack("acme", video);
    const res = await t.acme(`/v1/blobs/${video}/face-track`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual(track);
    // Other params name another track.
    expect((await t.acme(`/v1/blobs/${video}/face-track?smoothing=3`)).status).toBe(404);
    const other = await problemOf(await t.globex(`/v1/blobs/${video}/face-track`));
    expect(other.status).toBe(404);
    // Even with the same bytes uploaded, globex's scope has its own (absent) track.
    await putBlob(t.globex, bytes);
    expect((await t.globex(`/v1/blobs/${video}/face-track`)).status).toBe(404);
  });

  it("registers detectors with adapter=blazeface, takes them in params.detector, refuses them as a batch model", async () => {
    await uploadModel(t.acme, "lips");
    const res = await t.acme("/v1/models?tag=faces&adapter=blazeface", {
      method: "POST",
      body: new Uint8Array(randomBlob(300)),
      headers: { "content-type": "application/octet-stream" },
    });
    expect(res.status).toBe(201);
    const detector = ((await res.json()) as { sha256: string }).sha256;
    const [video, audio] = await Promise.all([putBlob(t.acme, randomBlob()), putBlob(t.acme, randomBlob())]);
    const item = { name: "a", inputs: { video, audio } };

    const asModel = await problemOf(await postJson(t.acme, "/v1/batches", { model: "faces", items: [item] }));
    expect(asModel.status).toBe(400);
    expect(asModel.detail).toMatch(/adapter blazeface.*params\.detector/);

    const ok = await postJson(t.acme, "/v1/batches", { model: "lips", items: [item], params: { detector } });
    expect(ok.status).toBe(201);
    // The detector and its params are part of the job key.
    const keyOf = async (params: object, name: string) => {
      const r = await postJson(t.acme, "/v1/batches", { model: "lips", items: [{ ...item, name }], params });
      return ((await r.json()) as { items: { jobKey: string }[] }).items[0]?.jobKey;
    };
    const base = await keyOf({}, "b");
    expect(await keyOf({ detector: DEFAULT_FACE_DETECTOR.sha256 }, "c")).toBe(base);
    expect(await keyOf({ detector }, "d")).not.toBe(base);
    expect(await keyOf({ smoothing: 1 }, "e")).not.toBe(base);

    // Another tenant cannot use acme's detector by its hash.
    await uploadModel(t.globex, "lips");
    const [gv, ga] = await Promise.all([putBlob(t.globex, randomBlob()), putBlob(t.globex, randomBlob())]);
    const refused = await problemOf(
      await postJson(t.globex, "/v1/batches", {
        model: "lips",
        items: [{ name: "g", inputs: { video: gv, audio: ga } }],
        params: { detector },
      }),
    );
    expect(refused.status).toBe(400);
    expect(refused.detail).toContain(detector);
  });

  it("lists an item's face track and its frames without a face", async () => {
    await uploadModel(t.acme, "lips2");
    const [video, audio] = await Promise.all([putBlob(t.acme, randomBlob()), putBlob(t.acme, randomBlob())]);
    const created = await postJson(t.acme, "/v1/batches", {
      model: "lips2",
      items: [{ name: "x", inputs: { video, audio } }],
    });
    const batch = (await created.json()) as { id: string; items: { jobKey: string }[] };
    const jobKey = batch.items[0]?.jobKey as string;
    const face = { trackKey: "f".repeat(64), frames: 100, framesWithoutFace: 12 };
    await t.ledger.jobs.recordResult({
      jobKey,
      key: objectKeys.output(jobKey, "output.mp4"),
      sha256: "e".repeat(64),
      size: 10,
      model: "0".repeat(64),
      adapter: "wav2lip",
      inputs: { video, audio },
      params: {},
      completedAt: new Date().toISOString(),
      face,
    });
    const res = await t.acme(`/v1/batches/${batch.id}/items`);
    const body = (await res.json()) as { items: { face?: unknown }[] };
    expect(body.items[0]?.face).toEqual(face);
  });
});
