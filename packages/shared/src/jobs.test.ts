import { describe, expect, it } from "vitest";
import { DEFAULT_FACE_DETECTOR } from "./face-track.ts";
import { canonicalJson } from "./hashing.ts";
import { computeJobKey, type JobKeyParts, normalizeParams } from "./jobs.ts";

const hex = (c: string) => c.repeat(64);
const base: JobKeyParts = {
  scope: "acme",
  modelSha256: hex("a"),
  adapter: "wav2lip",
  inputs: { video: hex("b"), audio: hex("c") },
  params: normalizeParams("wav2lip", { box: [10, 20, 30, 40] }),
};
const key = (patch: Partial<JobKeyParts>) => computeJobKey({ ...base, ...patch });

describe("job key", () => {
  it("is a lowercase hex SHA-256", () => {
    expect(key({})).toMatch(/^[0-9a-f]{64}$/);
  });

  it("does not change with param key order, or with defaults spelled out", () => {
    const reordered = normalizeParams("wav2lip", { pads: [0, 10, 0, 0], box: [10, 20, 30, 40] });
    expect(key({ params: reordered })).toBe(key({}));
    expect(canonicalJson({ b: 1, a: { d: 2, c: 3 } })).toBe(canonicalJson({ a: { c: 3, d: 2 }, b: 1 }));
  });

  it("changes with anything that changes the output", () => {
    const keys = new Set([
      key({}),
      key({ params: normalizeParams("wav2lip", { box: [10, 20, 30, 41] }) }),
      key({ params: normalizeParams("wav2lip", { box: [10, 20, 30, 40], pads: [0, 0, 0, 0] }) }),
      key({ modelSha256: hex("d") }),
      key({ inputs: { video: hex("e"), audio: hex("c") } }),
      key({ inputs: { video: hex("b"), audio: hex("f") } }),
      key({ inputs: { video: hex("c"), audio: hex("b") } }),
      key({ scope: "globex" }),
      key({ channels: "rgb" }),
      key({ params: normalizeParams("wav2lip", { box: [10, 20, 30, 40], length: "video" }) }),
      key({ params: normalizeParams("wav2lip", { box: [10, 20, 30, 40], loop: "forward" }) }),
    ]);
    expect(keys.size).toBe(11);
    // The adapter's default order is part of the key whether or not it is spelled out.
    expect(key({ channels: "bgr" })).toBe(key({}));
  });

  it("refuses unknown or malformed params instead of hashing them", () => {
    expect(() => normalizeParams("wav2lip", { box: [1, 2, 3] })).toThrow();
    expect(() => normalizeParams("wav2lip", { colour: "red" })).toThrow();
    expect(() => normalizeParams("wav2lip", { length: "longest" })).toThrow();
    expect(() => normalizeParams("wav2lip", { loop: "backward" })).toThrow();
    expect(normalizeParams("wav2lip", undefined)).toEqual({
      box: null,
      pads: [0, 10, 0, 0],
      detector: DEFAULT_FACE_DETECTOR.sha256,
      faceMinScore: null,
      smoothing: 5,
      length: "audio",
      loop: "pingpong",
    });
    expect(() => normalizeParams("wav2lip", { smoothing: 0 })).toThrow();
    expect(() => normalizeParams("wav2lip", { detector: "not-a-hash" })).toThrow();
    // The batch size is the worker's setting (INFERENCE_BATCH_SIZE), so it cannot split a key.
    expect(() => normalizeParams("wav2lip", { batchSize: 8 })).toThrow(/batchSize/);
  });
});
