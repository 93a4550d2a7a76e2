/**
 * Face-swap batches through the API: inputs {video, face}, params.recognizer given as a tag is
 * stored as its model's sha256 (a job key names bytes, never a tag), a recognizer that is not
 * an arcface model or unknown is refused, and the recognizer's blob must be granted.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { postJson, problemOf, putBlob, randomBlob, startTestApi, type TestApi } from "./helpers.ts";

describe("face-swap batches", () => {
  let t: TestApi;
  beforeAll(async () => {
    t = await startTestApi();
  });
  afterAll(async () => t?.stop());

  const register = async (tag: string, adapter: string) => {
    const res = await t.acme(`/v1/models?tag=${encodeURIComponent(tag)}&adapter=${adapter}`, {
      method: "POST",
      body: new Uint8Array(randomBlob(128)),
      headers: { "content-type": "application/octet-stream" },
    });
    expect(res.status).toBe(201);
    return ((await res.json()) as { sha256: string }).sha256;
  };

  it("takes {video, face} items and stores a recognizer tag as its sha256", async () => {
    await register("swapper@1", "inswapper");
    const recognizer = await register("arcface@1", "arcface");
    await register("lips@1", "wav2lip");
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
