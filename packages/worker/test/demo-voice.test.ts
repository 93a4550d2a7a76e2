import fs from "node:fs";
import { InferenceSession } from "onnxruntime-node";
import { describe, expect, it } from "vitest";
import { bindPiper } from "../src/adapters/piper/binding.ts";
import { runVoice } from "../src/adapters/piper/run-voice.ts";
import { planSpeech } from "../src/adapters/piper/speech-plan.ts";
import { parseVoiceConfig } from "../src/adapters/piper/voice-config.ts";
import { runTensors } from "../src/inference/tensors.ts";
import {
  buildDemoVoice,
  DEMO_VOICE_CONFIG_PATH,
  DEMO_VOICE_PATH,
  DEMO_VOICE_RATE,
  demoVoiceConfigJson,
} from "../scripts/make-demo-voice.ts";

describe("demo piper voice", () => {
  it("is the committed voice and config, byte for byte", () => {
    expect(Buffer.from(buildDemoVoice()).equals(fs.readFileSync(DEMO_VOICE_PATH))).toBe(true);
    expect(fs.readFileSync(DEMO_VOICE_CONFIG_PATH, "utf8")).toBe(demoVoiceConfigJson());
  });

  it("speaks a sentence as tones, 40 ms per id, the pads silent", async () => {
    const config = parseVoiceConfig(fs.readFileSync(DEMO_VOICE_CONFIG_PATH));
    const session = await InferenceSession.create(DEMO_VOICE_PATH);
    const binding = bindPiper(session, config, "demo voice");
    const plan = await planSpeech("Hello there.", config);
    const ids = plan.sentences[0]!.runs[0]!;
    const { audio } = await runVoice((req) => runTensors(session, req), binding, {
      ids,
      scales: [0.667, 1, 0.8],
    });
    const block = Math.floor(0.04 * DEMO_VOICE_RATE);
    expect(audio.length).toBe(ids.length * block);
    const rms = (i: number) =>
      Math.sqrt(audio.subarray(i * block, (i + 1) * block).reduce((a, v) => a + v * v, 0) / block);
    expect(rms(1)).toBe(0); // the pad after BOS
    expect(rms(2)).toBeGreaterThan(0.3); // "h": a tone of amplitude 0.5 (rms ~0.35)
    await session.release();
  });
});
