/**
 * The Piper core against the real espeak-ng (Debian's) and onnxruntime-node, with a test voice
 * built in code whose audio spells out the ids it was given (voice-model.ts, "level").
 */
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { InferenceSession } from "onnxruntime-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BadInputError } from "../../errors.ts";
import { type RunRequest, runTensors } from "../../inference/tensors.ts";
import { bindPiper } from "./binding.ts";
import { MAX_PHONEMES_PER_RUN } from "./long-sentences.ts";
import { piperParamsSchema, resolveSettings } from "./params.ts";
import { runVoice } from "./run-voice.ts";
import { planSpeech } from "./speech-plan.ts";
import { synthesize } from "./synthesize.ts";
import { parseVoiceConfig, type VoiceConfig } from "./voice-config.ts";
import { buildVoiceModel, PIPER_SYMBOLS, voiceConfigFor } from "./voice-model.ts";
import { WavWriter } from "./wav-writer.ts";

const RATE = 16000;
const PER_ID = 64; // samples per id at length_scale 1
const voice = { sampleRate: RATE, secondsPerId: PER_ID / RATE, waveform: "level" as const };

let dir: string;
let single: InferenceSession;
let multi: InferenceSession;
const singleConfig = parseVoiceConfig(JSON.stringify(voiceConfigFor({ sampleRate: RATE })));
const multiConfig = parseVoiceConfig(
  JSON.stringify(voiceConfigFor({ sampleRate: RATE, speakers: ["ann", "bob", "cy"] })),
);

beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), "piper-spec-"));
  single = await InferenceSession.create(buildVoiceModel(voice));
  multi = await InferenceSession.create(buildVoiceModel({ ...voice, speakers: 3 }));
});
afterAll(async () => {
  await single.release();
  await multi.release();
  await fs.rm(dir, { recursive: true, force: true });
});

/** Speaks a text with a voice into a WAV file and reads it back. */
async function speak(text: string, o: { session?: InferenceSession; config?: VoiceConfig; params?: object } = {}) {
  const session = o.session ?? single;
  const config = o.config ?? singleConfig;
  const binding = bindPiper(session, config, "test voice");
  const settings = resolveSettings(piperParamsSchema.parse(o.params ?? {}), config);
  const plan = await planSpeech(text, config);
  const file = path.join(dir, `${Math.random().toString(36).slice(2)}.wav`);
  const wav = await WavWriter.create(file, settings.sampleRate);
  const run = (req: RunRequest) => runTensors(session, req);
  const report = await synthesize(plan, settings, async (r) => (await runVoice(run, binding, r)).audio, wav);
  await wav.close();
  return { plan, report, ...readWav(await fs.readFile(file)) };
}

function readWav(bytes: Buffer) {
  expect(bytes.toString("ascii", 0, 4)).toBe("RIFF");
  expect(bytes.toString("ascii", 8, 16)).toBe("WAVEfmt ");
  expect(bytes.readUInt16LE(20)).toBe(1); // PCM
  expect(bytes.readUInt16LE(22)).toBe(1); // mono
  expect(bytes.readUInt16LE(34)).toBe(16);
  expect(bytes.readUInt32LE(4)).toBe(bytes.length - 8);
  expect(bytes.readUInt32LE(40)).toBe(bytes.length - 44);
  const samples = new Int16Array(bytes.buffer.slice(bytes.byteOffset + 44, bytes.byteOffset + bytes.length));
  return { sampleRate: bytes.readUInt32LE(24), samples };
}

/**
 * The ids a run of level audio spells: each block of `block` samples holds (id + 1) / 256,
 * scaled to full range by the run's peak; the first block is BOS (id 1) and fixes the scale.
 */
function idsOf(samples: Int16Array, block: number): number[] {
  const bos = samples[0]!;
  const ids: number[] = [];
  for (let i = 0; i < samples.length; i += block) {
    const blockSamples = samples.subarray(i, i + block);
    expect(new Set(blockSamples).size).toBe(1); // one level per block
    ids.push(Math.round((blockSamples[0]! / bos) * 2 - 1) || 0); // no -0
  }
  return ids;
}

const id = (p: string) => {
  const i = PIPER_SYMBOLS.indexOf(p);
  expect(i, `symbol ${p}`).toBeGreaterThanOrEqual(0);
  return i;
};
/** Piper's layout written out: ^ _ then each phoneme and _, then $. */
const piperIds = (phonemes: string) => [1, 0, ...Array.from(phonemes).flatMap((p) => [id(p), 0]), 2];

describe("Piper voice through espeak-ng and onnxruntime", () => {
  it("maps a known sentence to Piper's ids, and the model receives exactly them", async () => {
    const { plan, samples, sampleRate } = await speak("Hello, world.");
    // espeak-ng 1.51, en-us: "həlˈoʊ" and "wˈɜːld", the comma kept with a space, the full stop kept.
    const expected = piperIds("həlˈoʊ, wˈɜːld.");
    expect(expected.slice(0, 8)).toEqual([1, 0, 20, 0, 59, 0, 24, 0]);
    expect(plan.sentences).toEqual([{ text: "Hello, world.", runs: [expected] }]);
    expect(sampleRate).toBe(RATE);
    expect(samples.length).toBe(expected.length * PER_ID);
    expect(idsOf(samples, PER_ID)).toEqual(expected);
  });

  it("removes espeak-ng's language-switch flags and decomposes phonemes (NFD)", async () => {
    const config = parseVoiceConfig(JSON.stringify(voiceConfigFor({ sampleRate: RATE, espeakVoice: "fr" })));
    const { plan } = await speak("Bonjour le monde.", { config });
    // "bɔ̃ʒˈuʁ lə- mˈɔ̃d": the nasal vowel is ɔ + U+0303 (combining tilde, id 141).
    expect(plan.sentences[0]!.runs[0]).toEqual(piperIds("bɔ\u0303ʒˈuʁ lə- mˈɔ\u0303d."));
    const mixed = await planSpeech("Das ist Software.", { ...config, espeak: { voice: "de" } });
    // espeak-ng reads "Software" in English and marks it "(en)...(de)"; the marks are not phonemes.
    const ids = mixed.sentences[0]!.runs[0]!;
    expect(ids).not.toContain(id("("));
    expect(ids).not.toContain(id(")"));
  });

  it("splits sentences, speaks each alone and puts sentenceSilence between them (not after the last)", async () => {
    const text = "Hello, world. How are you? Fine!";
    for (const silence of [0.2, 0.5]) {
      const { plan, samples, report } = await speak(text, { params: { sentenceSilence: silence } });
      expect(plan.sentences.map((s) => s.text)).toEqual(["Hello, world.", "How are you?", "Fine!"]);
      const runs = plan.sentences.map((s) => s.runs[0]!);
      expect(runs.map((r) => r.at(-3))).toEqual([id("."), id("?"), id("!")]); // terminator before the pad and EOS
      const gap = Math.round(silence * RATE);
      const total = runs.reduce((n, r) => n + r.length * PER_ID, 0) + 2 * gap;
      expect(samples.length).toBe(total);
      expect(report.seconds).toBeCloseTo(total / RATE, 6);
      let at = 0;
      for (const [i, run] of runs.entries()) {
        expect(idsOf(samples.subarray(at, at + run.length * PER_ID), PER_ID)).toEqual(run);
        at += run.length * PER_ID;
        if (i < runs.length - 1) {
          expect(samples.subarray(at, at + gap).every((v) => v === 0)).toBe(true);
          at += gap;
        }
      }
      expect(at).toBe(samples.length);
    }
  });

  it("passes lengthScale to the model (twice the length, twice the audio) and the speaker as sid", async () => {
    const base = await speak("Hello.");
    const slow = await speak("Hello.", { params: { lengthScale: 2 } });
    expect(slow.samples.length).toBe(2 * base.samples.length);
    expect(idsOf(slow.samples, 2 * PER_ID)).toEqual(base.plan.sentences[0]!.runs[0]);
    // The multi-speaker test voice adds sid samples to each id's block.
    const n = base.plan.sentences[0]!.runs[0]!.length;
    const bob = await speak("Hello.", { session: multi, config: multiConfig, params: { speaker: "bob" } });
    expect(bob.samples.length).toBe(n * (PER_ID + 1));
    const cy = await speak("Hello.", { session: multi, config: multiConfig, params: { speaker: 2 } });
    expect(idsOf(cy.samples, PER_ID + 2)).toEqual(base.plan.sentences[0]!.runs[0]);
  });

  it("speaks a long text in runs of bounded length", async () => {
    const sentence = "The quick brown fox jumps over the lazy dog, and the dog sleeps on";
    const { plan, samples } = await speak(`${Array(20).fill(sentence).join(", ")}. Then it ends.`);
    expect(plan.sentences).toHaveLength(2);
    const runs = plan.sentences[0]!.runs;
    expect(runs.length).toBeGreaterThan(3);
    // Each run is at most MAX_PHONEMES_PER_RUN phonemes: BOS + pad + 2 per phoneme + EOS ids.
    for (const run of runs) expect(run.length).toBeLessThanOrEqual(2 * MAX_PHONEMES_PER_RUN + 3);
    const ids = plan.sentences.flatMap((s) => s.runs).reduce((n, r) => n + r.length, 0);
    expect(samples.length).toBe(ids * PER_ID + Math.round(0.2 * RATE));
  });

  describe("bad input fails with its reason", () => {
    it("names the phonemes the voice's map lacks, with the sentence they are in", async () => {
      const config = parseVoiceConfig(JSON.stringify(voiceConfigFor({ sampleRate: RATE })));
      delete (config.phoneme_id_map as Record<string, unknown>)["ə"];
      const err = await planSpeech("Fine. Hello, world.", config).catch((e) => e);
      expect(err).toBeInstanceOf(BadInputError);
      expect(err.message).toMatch(/phoneme_id_map has no id for "ə" \(U\+0259\) in "Hello, world\."/);
    });

    it("refuses characters espeak-ng has no phonemes for", async () => {
      const err = await planSpeech("Hello. \u{E000}\u{E001}.", singleConfig).catch((e) => e);
      expect(err).toBeInstanceOf(BadInputError);
      expect(err.message).toMatch(/no phonemes for "\u{E000}\u{E001}\."/u);
    });

    it("refuses an espeak voice espeak-ng does not have", async () => {
      const err = await planSpeech("Hello.", { ...singleConfig, espeak: { voice: "xx-nowhere" } }).catch((e) => e);
      expect(err).toBeInstanceOf(BadInputError);
      expect(err.message).toMatch(/espeak.voice "xx-nowhere" is not a voice of espeak-ng/);
    });

    it("refuses an unknown speaker and a config that does not fit the model", async () => {
      await expect(
        speak("Hello.", { session: multi, config: multiConfig, params: { speaker: "dora" } }),
      ).rejects.toThrow(/unknown speaker "dora"/);
      await expect(speak("Hello.", { session: single, config: multiConfig })).rejects.toThrow(
        /config has 3 speakers, but the model has no sid input/,
      );
    });
  });
});
