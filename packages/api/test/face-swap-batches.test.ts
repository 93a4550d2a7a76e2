/**
 * Face-swap models and batches through the API: a model is registered only when its ONNX
 * graph fits its adapter; inputs {video, face}; params.recognizer given as a tag is
 * stored as its model's sha256 (a job key names bytes, never a tag), a recognizer that is not
 * an arcface model or unknown is refused, and the recognizer's blob must be granted.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
// Models built in code with the exact signatures (the worker's test models).
import { buildArcFaceStandIn, buildIdentitySwapper, buildWrongSwapper } from "../../worker/scripts/face-swap-models.ts";
import { postJson, problemOf, putBlob, randomBlob, startTestApi, type TestApi } from "./helpers.ts";

describe("face-swap batches", () => {
  let t: TestApi;
  beforeAll(async () => {
    t = await startTestApi();
  });
  afterAll(async () => t?.stop());

  const post = (tag: string, adapter: string, bytes: Uint8Array) =>
    t.acme(`/v1/models?tag=${encodeURIComponent(tag)}&adapter=${adapter}`, {
      method: "POST",
      body: new Uint8Array(bytes),
      headers: { "content-type": "application/octet-stream" },
    });
  const register = async (tag: string, adapter: string, bytes: Uint8Array) => {
    const res = await post(tag, adapter, bytes);
    expect(res.status).toBe(201);
    return ((await res.json()) as { sha256: string }).sha256;
  };

  it("registers a swapper and a recognizer whose graphs fit, and refuses one that does not, naming both signatures", async () => {
    await register("swapper@0", "inswapper", buildIdentitySwapper());
    await register("arcface@0", "arcface", buildArcFaceStandIn());
    const wrong = await problemOf(await post("wrong@0", "inswapper", buildWrongSwapper()));
    expect(wrong.status).toBe(400);
    expect(wrong.detail).toBe(
      "The model does not fit the inswapper adapter, which needs inputs target [1,3,128,128] (RGB in [0,1]) and " +
        "source [1,512] and output [1,3,128,128], with the 512x512 emap as the graph's last initializer; the model " +
        "has inputs target [1,3,256,256], source [1,512] and outputs output [1,3,256,256]",
    );
    const swapperAsRecognizer = await problemOf(await post("r@0", "arcface", buildIdentitySwapper()));
    expect(swapperAsRecognizer.detail).toMatch(/does not fit the arcface adapter, which needs input \[1,3,112,112\]/);
    const notOnnx = await problemOf(await post("x@0", "arcface", randomBlob(64)));
    expect(notOnnx.detail).toMatch(/^The model is not an ONNX file/);
  });

  it("takes {video, face} items and stores a recognizer tag as its sha256", async () => {
    await register("swapper@1", "inswapper", buildIdentitySwapper());
    const recognizer = await register("arcface@1", "arcface", buildArcFaceStandIn());
    await register("lips@1", "wav2lip", randomBlob(128));
    const [video, face] = await Promise.all([putBlob(t.acme, randomBlob()), putBlob(t.acme, randomBlob())]);
    const res = await postJson(t.acme, "/v1/batches", {
      model: "swapper@1",
      params: { recognizer: "arcface@1" },
      items: [{ name: "a", inputs: { video, face } }],
    });
    expect(res.status).toBe(201);
    const answer = (await res.json()) as { id: string };
    const batch = await t.ledger.batches.get(answer.id);
    expect(batch?.params).toEqual({ recognizer });
    const [item] = await t.ledger.batches.items(answer.id, 0, 1);
    expect(item?.params).toMatchObject({ recognizer, blend: 0.3 });

    const wrongInputs = await problemOf(
      await postJson(t.acme, "/v1/batches", {
        model: "swapper@1",
        params: { recognizer },
        items: [{ name: "b", inputs: { video, audio: face } }],
      }),
    );
    expect(wrongInputs.detail).toContain("the inswapper adapter takes inputs {video, face}; got {audio, video}");
    const notArcface = await problemOf(
      await postJson(t.acme, "/v1/batches", {
        model: "swapper@1",
        items: [{ name: "c", inputs: { video, face }, params: { recognizer: "lips@1" } }],
      }),
    );
    expect(notArcface.detail).toBe('params.recognizer "lips@1" is a wav2lip model, not arcface.');
    const unknown = await problemOf(
      await postJson(t.acme, "/v1/batches", {
        model: "swapper@1",
        items: [{ name: "d", inputs: { video, face }, params: { recognizer: "nope@1" } }],
      }),
    );
    expect(unknown.status).toBe(400);
    expect(unknown.detail).toContain('No recognizer "nope@1"');
    const missing = await problemOf(
      await postJson(t.acme, "/v1/batches", { model: "swapper@1", items: [{ name: "e", inputs: { video, face } }] }),
    );
    expect(missing.detail).toContain("params.recognizer");
    // A recognizer hash this key was never granted is refused like any input blob.
    const foreign = await problemOf(
      await postJson(t.acme, "/v1/batches", {
        model: "swapper@1",
        items: [{ name: "f", inputs: { video, face }, params: { recognizer: "e".repeat(64) } }],
      }),
    );
    expect(foreign.detail).toContain("not uploaded for this API key");
  });
});
