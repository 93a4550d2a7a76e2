import { describe, expect, it } from "vitest";
import { DEFAULT_FACE_DETECTOR, faceTrackParamsSchema } from "./face-track.ts";
import { canonicalJson } from "./hashing.ts";
import { computeJobKey, computeTrackKey, type JobKeyParts, normalizeParams } from "./jobs.ts";

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

// Results already in S3 are paid-for GPU hours: a Wav2Lip batch finished before a change and
// re-submitted after it must find them. These literals were computed on the code before the
// adapter registry (docs/architecture.md#content-addressing); only a PIPELINE_VERSION bump may change them.
describe("pinned keys", () => {
  it("keeps a Wav2Lip item's job key", () => {
    expect(key({})).toBe("e497016cc3e6910de3ae6debfac112c1184bf4a56b43e33bb8ab9330275c6e4c");
    expect(key({ channels: "rgb" })).toBe("5d21bb35dc206f916b5a7e8c3a208a8afed3bf6402a4b8147a9478f026a3a76a");
    expect(key({ scope: "global", params: normalizeParams("wav2lip", {}) })).toBe(
      "5fe4e377866973ba775e23f872f3f535e7f379ddbe80a84f10dd728294149195",
    );
  });

  it("keeps a face track's key", () => {
    expect(computeTrackKey({ scope: "acme", video: hex("b"), params: faceTrackParamsSchema.parse({}) })).toBe(
      "040a393ef3251778dfc5bf4686e53e4dcc5faf5a7c09de178a71774cf14c69b5",
    );
  });
});
