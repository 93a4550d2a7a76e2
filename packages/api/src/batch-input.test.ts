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
        { name: "mixed", inputs: { video: hex("b"), audio: hex("c"), text: hex("d") } },
        { name: "short", inputs: { video: hex("b") } },
      ],
    });
    expect(items.map((i) => i.name)).toEqual(["ok"]);
    expect(errors).toEqual([
      'items[1] "mixed": inputs: the wav2lip adapter takes inputs {video, audio} or {video, text}; got {audio, text, video}',
      'items[2] "short": inputs: the wav2lip adapter takes inputs {video, audio} or {video, text}; got {video}',
    ]);
  });
});

describe("script-to-video items", () => {
  const voice = { sha256: hex("e"), adapter: "piper" as const, channels: "rgb" as const, config: hex("f") };
  const voices = new Map([
    ["narrator", voice],
    [hex("e"), voice],
  ]);
  const script = (text: string, params?: Record<string, unknown>) => ({
    name: text,
    inputs: { video: hex("b"), text: text.repeat(64) },
    params,
  });
  const prepare = (items: ReturnType<typeof script>[], batchParams = {}) =>
    prepareItems({ scope: "acme", model, batchParams, items, voices });

  it("records the voice's hash and keys the speech exactly as a plain speech item of the text", () => {
    const { items, errors } = prepare([script("1"), script("2", { voice: hex("e") })], { voice: "narrator" });
    expect(errors).toEqual([]);
    expect(items[0]?.params.voice).toBe(hex("e"));
    const tts = prepareItems({
      scope: "acme",
      model: voice,
      batchParams: {},
      items: [{ name: "t", inputs: { text: "1".repeat(64) } }],
    });
    expect(items[0]?.speech).toEqual({ jobKey: tts.items[0]?.jobKey, voice });
    // By tag or by hash: the same voice, the same work.
    const again = prepare([script("1", { voice: hex("e") })]);
    expect(again.items[0]?.jobKey).toBe(items[0]?.jobKey);
    expect(items[1]?.speech?.jobKey).not.toBe(items[0]?.speech?.jobKey);
  });

  it("keys the lip-sync by its speech: another voice config, another key", () => {
    const one = prepare([script("1", { voice: "narrator" })]);
    const otherConfig = prepareItems({
      scope: "acme",
      model,
      batchParams: {},
      items: [script("1", { voice: "narrator" })],
      voices: new Map([["narrator", { ...voice, config: hex("0") }]]),
    });
    expect(otherConfig.items[0]?.params).toEqual(one.items[0]?.params);
    expect(otherConfig.items[0]?.jobKey).not.toBe(one.items[0]?.jobKey);
  });

  it("needs a voice for text, and no voice for audio", () => {
    const { errors } = prepareItems({
      scope: "acme",
      model,
      batchParams: {},
      voices,
      items: [script("1"), script("2", { voice: "nobody" }), { name: "a", inputs, params: { voice: "narrator" } }],
    });
    expect(errors).toEqual([
      `items[0] "1": params.voice: a text input needs a voice (a piper model's tag or sha256)`,
      `items[1] "2": params.voice: no voice "nobody"`,
      `items[2] "a": params.voice: is for items with a text input (script to video)`,
    ]);
  });
});
