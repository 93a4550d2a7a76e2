import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { type DevStack, startDevStack, waitForBatch } from "@mediaq/cli";
import { createRedis, redisKeys, sha256Hex, speechStageFor } from "@mediaq/shared";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildVoiceModel, voiceConfigFor } from "../../packages/worker/src/adapters/piper/voice-model.ts";
import { launchChromium, openSubmitPage } from "../harness/browser.ts";
import { type FaceFootage, makeFaceFootage } from "../harness/face-footage.ts";

const RATE = 16000;
/** Samples per phoneme id: a short sentence of the test voice lasts about two seconds. */
const PER_ID = 800;
const FPS = 25;
const MEDIAQ = path.resolve(import.meta.dirname, "../../packages/cli/bin/mediaq.js");

/** The astronaut in view the whole clip. */
const FOOTAGE: FaceFootage = {
  width: 320,
  height: 180,
  fps: FPS,
  seconds: 2,
  path: [
    { t: 0, x: 70, y: 0, size: 180 },
    { t: 2, x: 80, y: 0, size: 180 },
  ],
};

type Redis = ReturnType<typeof createRedis>;

/**
 * Script to video as a user meets it (docs/architecture.md#script-to-video): lip-sync items
 * that give text and a voice instead of audio, through the API, worker and packager processes
 * of the dev stack, with real espeak-ng phonemes, the test voice and the astronaut footage.
 * Model runs are counted by the worker in the ledger (each job key's `runs`, as the fault
 * tests count them).
 */
describe("script to video end to end", () => {
  let stack: DevStack;
  let dir: string;
  let redis: Redis;
  let voiceConfig: string;
  const files: Record<string, string> = {};

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "mediaq-script-"));
    stack = await startDevStack({ dataDir: path.join(dir, "stack"), env: { JOB_ATTEMPTS: "3" } });
    redis = createRedis({ REDIS_URL: stack.redis.url });
    const write = (name: string, data: string | Uint8Array) => {
      files[name] = path.join(dir, name);
      fs.writeFileSync(files[name], data);
    };
    write("voice.onnx", buildVoiceModel({ sampleRate: RATE, secondsPerId: PER_ID / RATE, waveform: "level" }));
    write("voice.onnx.json", JSON.stringify(voiceConfigFor({ sampleRate: RATE })));
    write("orbit.txt", "Hello from orbit.");
    write("view.txt", "The view is lovely.");
    write("together.txt", "Two items, one speech.");
    write("long.txt", "We are flying over the ocean now. The clouds are white. Tomorrow we land.");
    write("unspeakable.txt", "Hello. \u{E000}.");
    files["astronaut.mp4"] = path.join(dir, "astronaut.mp4");
    makeFaceFootage(files["astronaut.mp4"], FOOTAGE);
    voiceConfig = await blob("voice.onnx.json");
    const q = new URLSearchParams({ tag: "voice", adapter: "piper", config: voiceConfig });
    const res = await fetch(new URL(`/v1/models?${q}`, stack.apiUrl), {
      method: "POST",
      headers: { authorization: `Bearer ${stack.apiKey}`, "content-type": "application/octet-stream" },
      body: fs.readFileSync(files["voice.onnx"] as string),
    });
    expect(res.status).toBe(201);
  });
  afterAll(async () => {
    redis?.disconnect();
    await stack?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  const blob = async (name: string) => (await stack.client.putBlobFile(files[name] as string)).sha256;
  const voiceSha = () => sha256Hex(fs.readFileSync(files["voice.onnx"] as string));
  /** The speech stage's job key, as a plain speech item of the text in the voice has it. */
  const speechKey = (text: string) =>
    speechStageFor({ scope: stack.tenant, text, voice: { sha256: voiceSha(), config: voiceConfig } }).jobKey;
  const runs = async (jobKey: string) => Number((await redis.hget(redisKeys.job(jobKey), "runs")) ?? 0);
  const totalRuns = async () => Number((await redis.get(redisKeys.inferenceRuns)) ?? 0);
  const videoSeconds = (file: string) => {
    const out = JSON.parse(
      execFileSync("ffprobe", [
        "-v",
        "error",
        "-select_streams",
        "v:0",
        "-count_frames",
        "-show_entries",
        "stream=nb_read_frames",
        "-of",
        "json",
        file,
      ]).toString(),
    ) as { streams: { nb_read_frames: string }[] };
    return Number(out.streams[0]?.nb_read_frames) / FPS;
  };
  const media = async (batchId: string, index: number, file: string) => {
    const res = await fetch(new URL(`/v1/batches/${batchId}/items/${index}/media`, stack.apiUrl), {
      headers: { authorization: `Bearer ${stack.apiKey}` },
    });
    expect(res.status).toBe(200);
    const link = (await res.json()) as { url: string; kind: string };
    fs.writeFileSync(file, Buffer.from(await (await fetch(link.url)).arrayBuffer()));
    return { kind: link.kind, file };
  };
  const wavSeconds = (file: string) => {
    const wav = fs.readFileSync(file);
    return (wav.length - 44) / 2 / wav.readUInt32LE(24);
  };
  const speechEvents = async (batchId: string) =>
    (await redis.xrange(redisKeys.batchEvents(batchId), "-", "+"))
      .map(([, fields]) => JSON.parse(fields[1] as string) as { type: string; stage?: string; jobKey: string })
      .filter((e) => e.type === "progress" && e.stage === "speech");

  it("refuses a text item without a voice, and a voice that is not a piper model", async () => {
    const body = (params: Record<string, unknown>) =>
      JSON.stringify({ model: "demo", items: [{ name: "a", inputs: { video: videoHash, text: textHash }, params }] });
    const videoHash = await blob("astronaut.mp4");
    const textHash = await blob("orbit.txt");
    const post = async (params: Record<string, unknown>) => {
      const res = await fetch(new URL("/v1/batches", stack.apiUrl), {
        method: "POST",
        headers: { authorization: `Bearer ${stack.apiKey}`, "content-type": "application/json" },
        body: body(params),
      });
      return { status: res.status, body: (await res.json()) as { detail: string } };
    };
    expect(await post({})).toMatchObject({ status: 400, body: { detail: expect.stringMatching(/needs a voice/) } });
    expect(await post({ voice: "demo" })).toMatchObject({
      status: 400,
      body: { detail: expect.stringMatching(/is a wav2lip model; a voice is a piper model/) },
    });
  });

  it("speaks each script once, lip-syncs each item, and outputs as long as their speech", async () => {
    const video = await blob("astronaut.mp4");
    const orbit = await blob("orbit.txt");
    const view = await blob("view.txt");
    const before = await totalRuns();
    // Two items speak the same script; they differ in how the video loops, so all three lip-syncs differ.
    const batch = await stack.client.createBatch({
      model: "demo",
      params: { voice: "voice" },
      items: [
        { name: "orbit", inputs: { video, text: orbit } },
        { name: "orbit-forward", inputs: { video, text: orbit }, params: { loop: "forward" } },
        { name: "view", inputs: { video, text: view } },
      ],
    });
    const status = await waitForBatch(stack.client, batch.id, undefined, { timeoutMs: 240_000 });
    expect(status.counts).toEqual({ pending: 0, running: 0, succeeded: 3, failed: 0 });

    const speech = { orbit: speechKey(orbit), view: speechKey(view) };
    expect(await runs(speech.orbit)).toBe(1);
    expect(await runs(speech.view)).toBe(1);
    for (const item of batch.items) expect(await runs(item.jobKey), item.name).toBe(1);
    // 2 syntheses and 3 lip-syncs, nothing else.
    expect((await totalRuns()) - before).toBe(5);
    // Items showed their speech stage in their progress: each item that queued a synthesis
    // (an item whose speech another had recorded already goes straight to lip-sync).
    const shown = new Set((await speechEvents(batch.id)).map((e) => e.jobKey));
    const [orbitA, orbitB, viewItem] = batch.items.map((i) => i.jobKey);
    expect(shown.has(viewItem as string)).toBe(true);
    expect(shown.has(orbitA as string) || shown.has(orbitB as string)).toBe(true);
    for (const k of shown) expect(batch.items.map((i) => i.jobKey)).toContain(k);

    // A plain speech item of the same script and voice has the stage's key: its result is reused.
    const tts = await stack.client.createBatch({ model: "voice", items: [{ name: "orbit", inputs: { text: orbit } }] });
    expect(tts.items[0]?.jobKey).toBe(speech.orbit);
    expect((await waitForBatch(stack.client, tts.id, undefined, { timeoutMs: 30_000 })).counts.succeeded).toBe(1);
    expect((await totalRuns()) - before).toBe(5);
    const orbitWav = wavSeconds((await media(tts.id, 0, path.join(dir, "orbit.wav"))).file);

    // Each output is as long as its speech (to a frame).
    const outputs = await Promise.all(batch.items.map((_, i) => media(batch.id, i, path.join(dir, `out-${i}.mp4`))));
    for (const o of outputs) expect(o.kind).toBe("video");
    const viewTts = await stack.client.createBatch({ model: "voice", items: [{ name: "v", inputs: { text: view } }] });
    await waitForBatch(stack.client, viewTts.id, undefined, { timeoutMs: 30_000 });
    const viewWav = wavSeconds((await media(viewTts.id, 0, path.join(dir, "view.wav"))).file);
    expect(orbitWav).toBeGreaterThan(1);
    expect(viewWav).not.toBeCloseTo(orbitWav, 1);
    for (const [i, wav] of [orbitWav, orbitWav, viewWav].entries())
      expect(Math.abs(videoSeconds(outputs[i]?.file as string) - wav), `item ${i}`).toBeLessThanOrEqual(1 / FPS);
  }, 300_000);

  it("two items of one new script queued together: one synthesis, the second item waits for the first's", async () => {
    const video = await blob("astronaut.mp4");
    const text = await blob("together.txt");
    // An explicit box: no face track to wait for, so both items are queued before the speech is.
    const batch = await stack.client.createBatch({
      model: "demo",
      params: { voice: "voice", box: [100, 20, 120, 120] },
      items: [
        { name: "a", inputs: { video, text } },
        { name: "b", inputs: { video, text }, params: { loop: "forward" } },
      ],
    });
    const status = await waitForBatch(stack.client, batch.id, undefined, { timeoutMs: 120_000 });
    expect(status.counts).toMatchObject({ succeeded: 2, failed: 0 });
    expect(await runs(speechKey(text))).toBe(1);
    // BullMQ gives a job one parent: the second item found the first's child and waited its turn.
    const log = fs.readFileSync(path.join(dir, "stack", "logs", "worker-0.log"), "utf8");
    expect(log).toContain("another item waits on this speech");
  }, 180_000);

  it("mediaq submit: scripts with one avatar video and --voice, and scripts alone with a voice as --model", async () => {
    const env = { ...process.env, MEDIAQ_API_URL: stack.apiUrl, MEDIAQ_API_KEY: stack.apiKey };
    const folder = (name: string, entries: Record<string, string>) => {
      const at = path.join(dir, name);
      fs.mkdirSync(at);
      for (const [file, from] of Object.entries(entries)) fs.copyFileSync(files[from] as string, path.join(at, file));
      return at;
    };
    const submit = (at: string, ...args: string[]) =>
      JSON.parse(
        execFileSync(process.execPath, [MEDIAQ, "submit", at, ...args, "--wait", "--json"], { env }).toString(),
      ) as { batch: { counts: Record<string, number> } };
    const before = await totalRuns();
    // The scripts and avatar of the batch above: the same work, so nothing runs again.
    const avatar = folder("avatar", { "orbit.txt": "orbit.txt", "view.txt": "view.txt", "face.mp4": "astronaut.mp4" });
    expect(submit(avatar, "--model", "demo", "--voice", "voice").batch.counts).toMatchObject({
      succeeded: 2,
      failed: 0,
    });
    const speech = folder("speech", { "orbit.txt": "orbit.txt" });
    expect(submit(speech, "--model", "voice").batch.counts).toMatchObject({ succeeded: 1, failed: 0 });
    expect(await totalRuns()).toBe(before);
    expect(() =>
      execFileSync(process.execPath, [MEDIAQ, "submit", avatar, "--model", "demo"], { env, stdio: "pipe" }),
    ).toThrow(/scripts with a video need --voice/);
  }, 120_000);

  it("the web page: scripts dropped with one avatar video, one typed, and a voice picked", async () => {
    const browser = await launchChromium();
    try {
      const { page, errors } = await openSubmitPage(browser, stack.apiUrl, stack.apiKey);
      await page.locator('input[name="mode"][value="scripts"]').check();
      await expect.poll(() => page.locator("#voice option").allTextContents()).toEqual(["voice"]);
      await page.getByLabel("Or type a script").fill("Typed on the page.");
      await page.getByLabel("Or type a script").dispatchEvent("change");
      const dropped = ["orbit.txt", "astronaut.mp4"].map((name) => ({
        name,
        base64: fs.readFileSync(files[name] as string).toString("base64"),
      }));
      const dataTransfer = await page.evaluateHandle((list) => {
        const dt = new DataTransfer();
        for (const f of list) dt.items.add(new File([Uint8Array.from(atob(f.base64), (c) => c.charCodeAt(0))], f.name));
        return dt;
      }, dropped);
      await page.locator("#drop").dispatchEvent("drop", { dataTransfer });
      await expect.poll(() => page.locator("#plan-rows tr").count()).toBe(2);
      expect(await page.locator("#plan-rows tr td:first-child").allTextContents()).toEqual([
        "orbit.mp4",
        "typed-script.mp4",
      ]);
      await page.getByRole("button", { name: "Upload and submit" }).click();
      await page.waitForURL(/#\/batches\/[\w-]+$/, { timeout: 60_000 });
      const batchId = page.url().split("#/batches/")[1] as string;
      const status = await waitForBatch(stack.client, batchId, undefined, { timeoutMs: 120_000 });
      expect(status.counts, errors.join("; ")).toMatchObject({ succeeded: 2, failed: 0 });
      const listed = (await stack.client.listItems(batchId)).items;
      // The dropped script on the same avatar is the work of the first batch: the same key.
      expect(listed.map((i) => i.name)).toEqual(["orbit.mp4", "typed-script.mp4"]);
    } finally {
      await browser.close();
    }
  }, 180_000);

  it("a worker SIGKILLed after an item's speech stage does not redo that speech; a bad script fails alone", async () => {
    const video = await blob("astronaut.mp4");
    const long = await blob("long.txt");
    const bad = await blob("unspeakable.txt");
    const key = speechKey(long);
    const batch = await stack.client.createBatch({
      model: "demo",
      params: { voice: "voice" },
      items: [
        { name: "long", inputs: { video, text: long } },
        { name: "unspeakable", inputs: { video, text: bad } },
      ],
    });
    const item = batch.items[0]?.jobKey as string;
    // Kill the worker as soon as the speech is recorded, while the lip-sync is still to come.
    const deadline = Date.now() + 120_000;
    while (!(await redis.exists(redisKeys.result(key)))) {
      if (Date.now() > deadline) throw new Error("the speech stage was never recorded");
      await new Promise((r) => setTimeout(r, 20));
    }
    const [worker] = stack.workers.children();
    expect(worker).toBeDefined();
    const stateAtKill = await redis.hget(redisKeys.job(item), "state");
    worker?.child.kill("SIGKILL");
    expect(stateAtKill).not.toBe("succeeded");

    const status = await waitForBatch(stack.client, batch.id, undefined, { timeoutMs: 240_000 });
    expect(status.counts).toEqual({ pending: 0, running: 0, succeeded: 1, failed: 1 });
    expect(await runs(key)).toBe(1);
    expect(await runs(item)).toBeGreaterThanOrEqual(1);
    const listed = (await stack.client.listItems(batch.id)).items;
    expect(listed[1]?.error).toMatch(/the speech stage failed: .*has no phonemes for "\u{E000}\."/u);
    const out = await media(batch.id, 0, path.join(dir, "long.mp4"));
    const tts = await stack.client.createBatch({ model: "voice", items: [{ name: "l", inputs: { text: long } }] });
    await waitForBatch(stack.client, tts.id, undefined, { timeoutMs: 30_000 });
    const wav = wavSeconds((await media(tts.id, 0, path.join(dir, "long.wav"))).file);
    expect(Math.abs(videoSeconds(out.file) - wav)).toBeLessThanOrEqual(1 / FPS);
  }, 300_000);
});
