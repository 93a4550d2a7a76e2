import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { type DevStack, startDevStack, waitForBatch, waitForPackage } from "@mediaq/cli";
import { createRedis, redisKeys } from "@mediaq/shared";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  buildVoiceModel,
  PIPER_SYMBOLS,
  voiceConfigFor,
} from "../../packages/worker/src/adapters/piper/voice-model.ts";

const RATE = 16000;
const PER_ID = 64;

/**
 * Text to speech as a user meets it: a Piper voice (built in code with Piper's signature and
 * config layout, its audio spelling out the ids it got) registered with its config through
 * the API, a batch of texts through the embedded stack's API and worker (real espeak-ng and
 * onnxruntime), WAVs downloaded through the item media links; bad items fail alone.
 */
describe("text to speech end to end", () => {
  let stack: DevStack;
  let dir: string;
  const files: Record<string, string> = {};

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "mediaq-tts-"));
    stack = await startDevStack({ dataDir: path.join(dir, "stack"), registerDemoModel: false });
    const write = (name: string, data: string | Uint8Array) => {
      files[name] = path.join(dir, name);
      fs.writeFileSync(files[name], data);
    };
    write("voice.onnx", buildVoiceModel({ sampleRate: RATE, secondsPerId: PER_ID / RATE, waveform: "level" }));
    write("voice.onnx.json", JSON.stringify(voiceConfigFor({ sampleRate: RATE })));
    write("multi.onnx.json", JSON.stringify(voiceConfigFor({ sampleRate: RATE, speakers: ["ann", "bob"] })));
    write("not-piper.json", JSON.stringify({ audio: { sample_rate: RATE } }));
    write("good.txt", "Hello, world. How are you?");
    write("blank.txt", "  \n\t ");
    write("latin1.txt", Uint8Array.of(...new TextEncoder().encode("Gr"), 0xfc, ...new TextEncoder().encode("ße.")));
    write("unspeakable.txt", "Hello. \u{E000}\u{E001}.");
  });
  afterAll(async () => {
    await stack?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  const register = async (tag: string, config?: string) => {
    const q = new URLSearchParams({ tag, adapter: "piper", ...(config ? { config } : {}) });
    const res = await fetch(new URL(`/v1/models?${q}`, stack.apiUrl), {
      method: "POST",
      headers: { authorization: `Bearer ${stack.apiKey}`, "content-type": "application/octet-stream" },
      body: fs.readFileSync(files["voice.onnx"]!),
    });
    return { status: res.status, body: (await res.json()) as Record<string, string> };
  };
  const blob = async (name: string) => (await stack.client.putBlobFile(files[name]!)).sha256;

  it("registers a voice with its config, refusing configs that are missing, not Piper's or do not fit", async () => {
    expect(await register("no-config")).toMatchObject({
      status: 400,
      body: { detail: expect.stringMatching(/registered with its .onnx.json config/) },
    });
    const notPiper = await register("bad", await blob("not-piper.json"));
    expect(notPiper.status).toBe(400);
    expect(notPiper.body.detail).toMatch(/is not a Piper voice config: .*phoneme_id_map/);
    const multi = await register("multi", await blob("multi.onnx.json"));
    expect(multi.status).toBe(400);
    expect(multi.body.detail).toMatch(/config has 2 speakers, but the model has no sid input/);
    const config = await blob("voice.onnx.json");
    const ok = await register("voice", config);
    expect(ok).toMatchObject({ status: 201, body: { tag: "voice", adapter: "piper", config } });
  });

  it("speaks a batch of texts into WAVs; bad texts fail alone with their reason", async () => {
    const client = stack.client;
    const good = await blob("good.txt");
    const items = [
      { name: "good", inputs: { text: good } },
      { name: "blank", inputs: { text: await blob("blank.txt") } },
      { name: "latin1", inputs: { text: await blob("latin1.txt") } },
      { name: "unspeakable", inputs: { text: await blob("unspeakable.txt") } },
      { name: "unknown speaker", inputs: { text: good }, params: { speaker: "dora" } },
    ];
    const batch = await client.createBatch({ model: "voice", items, params: { sentenceSilence: 0.25 } });
    const status = await waitForBatch(client, batch.id, undefined, { timeoutMs: 120_000 });
    expect(status.counts).toEqual({ pending: 0, running: 0, succeeded: 1, failed: 4 });
    const listed = (await client.listItems(batch.id)).items;
    const errors = Object.fromEntries(listed.map((i) => [i.name, i.error]));
    expect(errors.blank).toMatch(/empty or only whitespace/);
    expect(errors.latin1).toMatch(/is not UTF-8 text \(invalid byte at offset 2\)/);
    expect(errors.unspeakable).toMatch(/has no phonemes for "\u{E000}\u{E001}\."/u);
    expect(errors["unknown speaker"]).toMatch(/unknown speaker "dora": the voice has a single speaker/);

    const res = await fetch(new URL(`/v1/batches/${batch.id}/items/0/media`, stack.apiUrl), {
      headers: { authorization: `Bearer ${stack.apiKey}` },
    });
    expect(res.status).toBe(200);
    const media = (await res.json()) as { url: string; kind: string; contentType: string; poster: string | null };
    // An audio output is linked with its kind and served as audio, its waveform as its picture.
    expect(media).toMatchObject({ kind: "audio", contentType: "audio/wav", extension: ".wav" });
    const download = await fetch(media.url);
    expect(download.headers.get("content-type")).toBe("audio/wav");
    expect((await fetch(media.poster as string)).headers.get("content-type")).toBe("image/jpeg");
    const wav = Buffer.from(await download.arrayBuffer());
    expect(wav.toString("ascii", 0, 4)).toBe("RIFF");
    expect(wav.readUInt32LE(24)).toBe(RATE);
    expect(wav.readUInt16LE(34)).toBe(16);
    const samples = new Int16Array(wav.buffer.slice(wav.byteOffset + 44, wav.byteOffset + wav.length));
    // Piper's ids for espeak-ng's phonemes of the two sentences, then their audio with 0.25 s between.
    const ids = (phonemes: string) => [1, 0, ...Array.from(phonemes).flatMap((p) => [PIPER_SYMBOLS.indexOf(p), 0]), 2];
    const first = ids("həlˈoʊ, wˈɜːld.");
    const second = ids("hˈaʊ ɑːɹ juː?");
    const gap = 0.25 * RATE;
    expect(samples.length).toBe((first.length + second.length) * PER_ID + gap);
    const bos = samples[0]!;
    const spelled = (from: number, n: number) =>
      Array.from({ length: n }, (_, i) => Math.round((samples[from + i * PER_ID]! / bos) * 2 - 1) || 0);
    expect(spelled(0, first.length)).toEqual(first);
    expect(samples.subarray(first.length * PER_ID, first.length * PER_ID + gap).every((v) => v === 0)).toBe(true);
    const secondStart = first.length * PER_ID + gap;
    const bos2 = samples[secondStart]!;
    expect(
      Array.from(
        { length: second.length },
        (_, i) => Math.round((samples[secondStart + i * PER_ID]! / bos2) * 2 - 1) || 0,
      ),
    ).toEqual(second);

    // The package holds the WAV under its own extension; the manifest says what it is.
    const created = await client.createPackage(batch.id);
    const pkg = await waitForPackage(client, created.id, undefined, { timeoutMs: 60_000 });
    const manifest = (await (await fetch(pkg.manifest?.url as string)).json()) as { items: unknown[] };
    expect(manifest.items[0]).toMatchObject({ name: "good", entry: "good.wav", kind: "audio", extension: ".wav" });
    expect(manifest.items[1]).toMatchObject({ name: "blank", status: "failed" });

    // The same text, voice and params again: the job key is the same, nothing is synthesized twice.
    const redis = createRedis({ REDIS_URL: stack.redis.url });
    const runs = Number(await redis.get(redisKeys.inferenceRuns));
    const again = await client.createBatch({ model: "voice", items: [items[0]!], params: { sentenceSilence: 0.25 } });
    expect((await waitForBatch(client, again.id, undefined, { timeoutMs: 60_000 })).counts.succeeded).toBe(1);
    expect(Number(await redis.get(redisKeys.inferenceRuns))).toBe(runs);
    await redis.quit();
  });
});
