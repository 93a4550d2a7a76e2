/**
 * Writes models/demo-voice.onnx and models/demo-voice.onnx.json: a Piper voice built in code
 * (adapters/piper/voice-model.ts: Piper's exact signature and config layout, each phoneme id
 * a short tone of its own pitch), so `mediaq demo` shows text -> speech -> talking head
 * offline (docs/architecture.md#script-to-video).
 *
 * Run: node packages/worker/scripts/make-demo-voice.ts [out.onnx] (then `pnpm format`: the config is
 * checked in as biome formats it; the test compares its content)
 */
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { buildVoiceModel, DEMO_VOICE, voiceConfigFor } from "../src/adapters/piper/voice-model.ts";

const out = process.argv[2] ?? fileURLToPath(new URL("../models/demo-voice.onnx", import.meta.url));
fs.mkdirSync(path.dirname(out), { recursive: true });
fs.writeFileSync(out, buildVoiceModel(DEMO_VOICE));
fs.writeFileSync(`${out}.json`, `${JSON.stringify(voiceConfigFor({ sampleRate: DEMO_VOICE.sampleRate }), null, 2)}\n`);
console.log(`wrote ${out} and ${out}.json`);
