import { describe, expect, it } from "vitest";
import { BadInputError } from "../../errors.ts";
import { piperParamsSchema, resolveSettings } from "./params.ts";
import { parseVoiceConfig } from "./voice-config.ts";
import { voiceConfigFor } from "./voice-model.ts";

const single = parseVoiceConfig(
  JSON.stringify(
    voiceConfigFor({ sampleRate: 22050, inference: { noise_scale: 0.5, length_scale: 1.2, noise_w: 0.6 } }),
  ),
);
const multi = parseVoiceConfig(JSON.stringify(voiceConfigFor({ sampleRate: 16000, speakers: ["ann", "bob", "cy"] })));
const params = (p: object) => piperParamsSchema.parse(p);

describe("piperParamsSchema", () => {
  it("defaults the silence between sentences to 0.2 s and leaves the scales to the voice", () => {
    expect(params({})).toEqual({ sentenceSilence: 0.2 });
  });

  it("refuses unknown params and out-of-range values", () => {
    expect(piperParamsSchema.safeParse({ speed: 2 }).success).toBe(false);
    expect(piperParamsSchema.safeParse({ lengthScale: 0 }).success).toBe(false);
    expect(piperParamsSchema.safeParse({ sentenceSilence: -1 }).success).toBe(false);
  });
});

describe("resolveSettings", () => {
  it("takes the scales from the voice config unless the item sets them", () => {
    expect(resolveSettings(params({}), single)).toEqual({
      scales: [0.5, 1.2, 0.6],
      speakerId: undefined,
      sentenceSilence: 0.2,
      sampleRate: 22050,
    });
    expect(resolveSettings(params({ lengthScale: 2, noiseScale: 0, noiseW: 0.1 }), single).scales).toEqual([0, 2, 0.1]);
  });

  it("finds a speaker by name or id, and defaults to speaker 0", () => {
    expect(resolveSettings(params({ speaker: "bob" }), multi).speakerId).toBe(1);
    expect(resolveSettings(params({ speaker: 2 }), multi).speakerId).toBe(2);
    expect(resolveSettings(params({}), multi).speakerId).toBe(0);
  });

  it.each([
    ["an unknown name", multi, "dora", /unknown speaker "dora": the voice's speakers are "ann", "bob", "cy"/],
    ["an id beyond the speakers", multi, 3, /unknown speaker 3: the voice has speakers 0..2/],
    ["any speaker on a single-speaker voice", single, "ann", /unknown speaker "ann": the voice has a single speaker/],
  ])("refuses %s", (_, config, speaker, message) => {
    expect(() => resolveSettings(params({ speaker }), config)).toThrow(BadInputError);
    expect(() => resolveSettings(params({ speaker }), config)).toThrow(message);
  });
});
