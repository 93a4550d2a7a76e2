/**
 * Speech synthesis with the Piper adapter's core, on a 2,000-character English script (24
 * sentences), with the real espeak-ng and onnxruntime-node:
 * - the real-time factor (synthesis wall time / seconds of speech; below 1 is faster than real time);
 * - the share of the wall time inside session.run, against phonemization (espeak-ng and the id
 *   mapping) and encoding (peak scaling to 16-bit PCM and writing the WAV).
 * Two voices with Piper's signature, built in code: the demo voice (tones, almost free to run:
 * it shows the adapter's own overhead) and a voice whose session.run costs about what a real
 * Piper "medium" VITS voice costs on one CPU core (RTF ~0.1, set by COST_RTF: MatMul layers
 * calibrated on this machine, cost proportional to the phoneme ids as a VITS's is).
 * Where the session.run share is below 0.8, the bench says what takes the rest.
 *
 * Run: pnpm bench tts
 */
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { bindPiper } from "../../packages/worker/src/adapters/piper/binding.ts";
import { piperParamsSchema, resolveSettings } from "../../packages/worker/src/adapters/piper/params.ts";
import { runVoice } from "../../packages/worker/src/adapters/piper/run-voice.ts";
import { planSpeech } from "../../packages/worker/src/adapters/piper/speech-plan.ts";
import { synthesize } from "../../packages/worker/src/adapters/piper/synthesize.ts";
import { parseVoiceConfig } from "../../packages/worker/src/adapters/piper/voice-config.ts";
import {
  buildVoiceModel,
  type VoiceModelOptions,
  voiceConfigFor,
} from "../../packages/worker/src/adapters/piper/voice-model.ts";
import { WavWriter } from "../../packages/worker/src/adapters/piper/wav-writer.ts";
import { createSession } from "../../packages/worker/src/inference/create-session.ts";
import { type RunRequest, runTensors } from "../../packages/worker/src/inference/tensors.ts";
import { cpuSeconds } from "../harness/cpu.ts";

const RATE = 22050;
/** 2 ids per phoneme (the phoneme and its pad) at 0.04 s each: about 12 phonemes a second, as speech. */
const SECONDS_PER_ID = 0.04;
const COST_RTF = 0.1;
const ROUNDS = 3;

const SENTENCES = [
  "Welcome to the quarterly update for the operations team.",
  "This quarter, we shipped the new scheduling system to every region, on time and under budget.",
  "Customer wait times fell by a third, and the support queue is the shortest it has been in two years.",
  "We also retired the old billing service, which had caused most of last year's incidents.",
  "There is still work to do.",
  "Our onboarding takes too long, and new customers tell us the setup guide is hard to follow.",
  "Next quarter, we will rewrite the guide, record short videos for each step, and test them with real users.",
  "We are hiring, too: three engineers, a designer, and a support lead.",
  "If you know someone who would be a good fit, please send them our way.",
  "Finally, thank you.",
  "None of this happens without the people who answer the phones at night, fix the servers on weekends, and keep asking how we can do better.",
  "See you next quarter.",
];
const SCRIPT = [...SENTENCES, ...SENTENCES].join(" ").slice(0, 2000);

interface Timing {
  wall: number;
  cpu: number;
  phonemize: number;
  run: number;
  encode: number;
  audio: number;
}

async function speak(session: Session, dir: string): Promise<Timing> {
  const config = parseVoiceConfig(JSON.stringify(voiceConfigFor({ sampleRate: RATE })));
  const binding = bindPiper(session, config, "bench voice");
  const settings = resolveSettings(piperParamsSchema.parse({}), config);
  const cpu = cpuSeconds();
  const started = performance.now();
  const plan = await planSpeech(SCRIPT, config);
  const phonemized = performance.now();
  let run = 0;
  const wav = await WavWriter.create(path.join(dir, "speech.wav"), RATE);
  const report = await synthesize(
    plan,
    settings,
    async (r) => {
      const result = await runVoice((req) => runTensors(session, req), binding, r);
      run += result.runSeconds;
      return result.audio;
    },
    wav,
  );
  await wav.close();
  const wall = (performance.now() - started) / 1000;
  const phonemize = (phonemized - started) / 1000;
  return {
    wall,
    cpu: cpuSeconds() - cpu,
    phonemize,
    run: run / 1000,
    encode: wall - phonemize - run / 1000,
    audio: report.seconds,
  };
}

/** A voice whose session.run costs COST_RTF seconds per second of speech on this machine (calibrated on 400 ids). */
async function costVoice(): Promise<VoiceModelOptions> {
  const base: VoiceModelOptions = { sampleRate: RATE, secondsPerId: SECONDS_PER_ID, waveform: "tone" };
  const probeLayers = 24;
  const probe = { ...base, cost: { size: 512, layers: probeLayers } };
  const session = await open(buildVoiceModel(probe));
  const binding = bindPiper(session, parseVoiceConfig(JSON.stringify(voiceConfigFor({ sampleRate: RATE }))), "probe");
  const ids = Array.from({ length: 400 }, (_, i) => (i % 2 ? 0 : 20 + (i % 100)));
  const run = (req: RunRequest) => runTensors(session, req);
  await runVoice(run, binding, { ids, scales: [0.667, 1, 0.8] });
  let fastest = Number.POSITIVE_INFINITY;
  for (let i = 0; i < 5; i++) {
    const t = performance.now();
    await runVoice(run, binding, { ids, scales: [0.667, 1, 0.8] });
    fastest = Math.min(fastest, (performance.now() - t) / 1000);
  }
  await session.release();
  const target = COST_RTF * ids.length * SECONDS_PER_ID;
  const layers = Math.max(1, Math.round((probeLayers * target) / fastest));
  console.log(
    `cost voice: ${layers} layers (${probeLayers} took ${(1000 * fastest).toFixed(0)} ms on ${ids.length} ids)`,
  );
  return { ...probe, cost: { size: 512, layers } };
}

/** A session as the worker's inference thread opens one (CPU, no spinning threads). */
const open = async (model: Uint8Array) =>
  (await createSession(model, { provider: "cpu", deviceId: 0, label: "bench voice" })).session;

type Session = Awaited<ReturnType<typeof open>>;

const pct = (x: number) => `${(100 * x).toFixed(0)}%`;

export default async function ttsBench(): Promise<void> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), "mediaq-tts-bench-"));
  try {
    const voices: [string, VoiceModelOptions][] = [
      ["demo voice (tones, no model cost)", { sampleRate: RATE, secondsPerId: SECONDS_PER_ID, waveform: "tone" }],
      [`cost voice (session.run ~${COST_RTF} s per speech second)`, await costVoice()],
    ];
    console.log(`script: ${SCRIPT.length} characters; ${ROUNDS} rounds per voice, the median round printed`);
    for (const [name, options] of voices) {
      const session = await open(buildVoiceModel(options));
      await speak(session, dir); // warm-up: espeak-ng's data in the page cache, the session's first run
      const rounds: Timing[] = [];
      for (let i = 0; i < ROUNDS; i++) rounds.push(await speak(session, dir));
      await session.release();
      const t = rounds.sort((a, b) => a.wall - b.wall)[Math.floor(ROUNDS / 2)]!;
      const share = t.run / t.wall;
      console.log(
        `${name}: ${t.audio.toFixed(1)} s of speech in ${t.wall.toFixed(2)} s wall (${t.cpu.toFixed(2)} s CPU): ` +
          `real-time factor ${(t.wall / t.audio).toFixed(3)}; wall time in session.run ${pct(share)}, ` +
          `phonemization ${pct(t.phonemize / t.wall)} (${t.phonemize.toFixed(3)} s), encoding ${pct(t.encode / t.wall)} (${t.encode.toFixed(3)} s)`,
      );
      if (share < 0.8) {
        const [what, seconds] =
          t.phonemize >= t.encode
            ? ["phonemization (one espeak-ng process reads the whole script, then the ids are mapped)", t.phonemize]
            : ["encoding (each run's audio scaled to 16-bit PCM and appended to the WAV file)", t.encode];
        console.log(
          `  session.run is under 0.8 of the wall time: the model costs ${t.run.toFixed(3)} s, so the rest is the limit, ` +
            `mostly ${what}: ${seconds.toFixed(3)} s for ${t.audio.toFixed(0)} s of speech ` +
            `(${((1000 * seconds) / t.audio).toFixed(1)} ms per speech second, whatever the voice costs)`,
        );
      }
    }
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}
