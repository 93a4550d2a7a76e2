import { describe, expect, it } from "vitest";
import { DEFAULT_FACE_DETECTOR } from "@mediaq/shared";
import { duplicateNames, prepareItems } from "./batch-input.ts";

const hex = (c: string) => c.repeat(64);
const model = { sha256: hex("a"), adapter: "wav2lip" as const, channels: "bgr" as const };
const inputs = { video: hex("b"), audio: hex("c") };

describe("duplicateNames", () => {
  it("lists each repeated name once", () => {
    expect(duplicateNames(["a", "b", "a", "c", "a", "b"])).toEqual(["a", "b"]);
    expect(duplicateNames(["a", "b"])).toEqual([]);
  });
});

describe("prepareItems", () => {
  it("applies batch params under item params, with adapter defaults, into the job key", () => {
    const { items, errors } = prepareItems({
      scope: "acme",
      model,
      batchParams: { box: [1, 2, 3, 4], pads: [0, 8, 0, 0] },
      items: [
        { name: "a", inputs },
        { name: "b", inputs, params: { pads: [0, 4, 0, 0] } },
      ],
    });
    expect(errors).toEqual([]);
    expect(items[0]?.params).toEqual({
      box: [1, 2, 3, 4],
      pads: [0, 8, 0, 0],
      detector: DEFAULT_FACE_DETECTOR.sha256,
      faceMinScore: null,
      smoothing: 5,
      length: "audio",
      loop: "pingpong",
    });
    expect(items[1]?.params).toMatchObject({ box: [1, 2, 3, 4], pads: [0, 4, 0, 0] });
    expect(items[0]?.jobKey).not.toBe(items[1]?.jobKey);
  });

  it("gives the same key for the same work, another for another tenant scope", () => {
    const one = prepareItems({ scope: "acme", model, batchParams: {}, items: [{ name: "x", inputs }] });
    const explicitDefaults = prepareItems({
      scope: "acme",
      model,
      batchParams: {},
      items: [{ name: "y", inputs, params: { pads: [0, 10, 0, 0], box: null } }],
    });
    const otherTenant = prepareItems({ scope: "globex", model, batchParams: {}, items: [{ name: "x", inputs }] });
    const rgbModel = prepareItems({
      scope: "acme",
      model: { ...model, channels: "rgb" },
      batchParams: {},
      items: [{ name: "x", inputs }],
    });
    expect(explicitDefaults.items[0]?.jobKey).toBe(one.items[0]?.jobKey);
    expect(otherTenant.items[0]?.jobKey).not.toBe(one.items[0]?.jobKey);
    expect(rgbModel.items[0]?.jobKey).not.toBe(one.items[0]?.jobKey);
  });

  it("reports every bad item with its index, name and field", () => {
    const { items, errors } = prepareItems({
      scope: "acme",
      model,
      batchParams: {},
      items: [
        { name: "ok", inputs },
        { name: "neg", inputs, params: { box: [0, 0, -1, 5] } },
        { name: "typo", inputs, params: { bxo: [0, 0, 1, 1] } },
      ],
    });
    expect(items.map((i) => i.name)).toEqual(["ok"]);
    expect(errors).toHaveLength(2);
    expect(errors[0]).toMatch(/^items\[1\] "neg": params\.box\.2: /);
    expect(errors[1]).toMatch(/^items\[2\] "typo": params: .*bxo/);
  });

  it("checks inputs against the adapter's input sets", () => {
    const { items, errors } = prepareItems({
      scope: "acme",
      model,
      batchParams: {},
      items: [
        { name: "ok", inputs },
        { name: "text", inputs: { video: hex("b"), text: hex("d") } },
        { name: "short", inputs: { video: hex("b") } },
      ],
    });
    expect(items.map((i) => i.name)).toEqual(["ok"]);
    expect(errors).toEqual([
      'items[1] "text": inputs: the wav2lip adapter takes inputs {video, audio}; got {text, video}',
      'items[2] "short": inputs: the wav2lip adapter takes inputs {video, audio}; got {video}',
    ]);
  });
});
