/**
 * Writes models/demo-piper.onnx and models/demo-piper.onnx.json: an untrained stand-in for a
 * Piper voice with Piper's exact signature and config layout (adapters/piper/voice-model.ts),
 * so `mediaq demo` speaks text offline. Each phoneme id sounds as a tone of 180 + 12 * id Hz
 * for 40 ms (the pads between phonemes are silent): about 12 phonemes a second, as speech.
 *
 * Run: node packages/worker/scripts/make-demo-voice.ts
 */
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { buildVoiceModel, voiceConfigFor } from "../src/adapters/piper/voice-model.ts";

export const DEMO_VOICE_RATE = 22050;

export const buildDemoVoice = () =>
  buildVoiceModel({ sampleRate: DEMO_VOICE_RATE, secondsPerId: 0.04, waveform: "tone" });
export const demoVoiceConfigJson = () =>
  `${JSON.stringify({ ...voiceConfigFor({ sampleRate: DEMO_VOICE_RATE }), dataset: "mediaq-demo-voice" }, null, 2)}\n`;

const here = path.dirname(fileURLToPath(import.meta.url));
export const DEMO_VOICE_PATH = path.join(here, "..", "models", "demo-piper.onnx");
/** Registered with the voice: POST /v1/models?adapter=piper&config=<its sha256>. */
export const DEMO_VOICE_CONFIG_PATH = `${DEMO_VOICE_PATH}.json`;

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  fs.mkdirSync(path.dirname(DEMO_VOICE_PATH), { recursive: true });
  fs.writeFileSync(DEMO_VOICE_PATH, buildDemoVoice());
  fs.writeFileSync(DEMO_VOICE_CONFIG_PATH, demoVoiceConfigJson());
  console.log(`wrote ${DEMO_VOICE_PATH} and ${DEMO_VOICE_CONFIG_PATH}`);
}
