import fs from "node:fs";
import { readVoiceConfig } from "@mediaq/shared";
import { describe, expect, it } from "vitest";
import { buildVoiceModel, DEMO_VOICE, voiceConfigFor } from "./voice-model.ts";

const shipped = (file: string) => fs.readFileSync(new URL(`../../../models/${file}`, import.meta.url));

describe("the shipped demo voice", () => {
  it("is what scripts/make-demo-voice.ts builds, with a config Piper's schema accepts", () => {
    expect(Buffer.from(buildVoiceModel(DEMO_VOICE)).equals(shipped("demo-voice.onnx"))).toBe(true);
    const config = readVoiceConfig(shipped("demo-voice.onnx.json"));
    expect(config.ok).toBe(true);
    expect(JSON.parse(shipped("demo-voice.onnx.json").toString())).toEqual(
      voiceConfigFor({ sampleRate: DEMO_VOICE.sampleRate }),
    );
  });
});
