import fs from "node:fs";
import path from "node:path";
import { parseByteSize, sha256Hex } from "@mediaq/shared";
import type { Command } from "commander";
import { astronautPng } from "../astronaut.ts";
import { type DevStack, demoSwapModelPaths, demoVoicePaths, startDevStack } from "../dev-stack.ts";
import { noFaceItems, printNoFaceItems } from "../face-notes.ts";
import { BatchProgress, printPackage } from "../progress.ts";
import { makeAudio, makeFaceClip, makeVideo } from "../sample-media.ts";
import { waitForBatch, waitForPackage } from "../wait.ts";
import { untilSignal } from "./dev.ts";

interface DemoOptions {
  dataDir: string;
  port: string;
  items: string;
  scripts: string;
  partSize: string;
  keep?: boolean;
  swap?: boolean;
}

type DemoItem = { name: string; inputs: Record<string, string>; params?: Record<string, unknown> };
type DemoBody = { model: string; items: DemoItem[]; params: Record<string, unknown> };

/** What the demo voice says (one script per item, round robin). */
const DEMO_SCRIPTS = [
  "Hello from mediaq. This video was spoken from a script.",
  "One script, one voice: synthesized once, then lip-synced.",
];

export function registerDemo(program: Command): void {
  program
    .command("demo")
    .description(
      "start the embedded stack, lip-sync a generated sample batch with the demo model (audio items, and scripts " +
        "spoken by the demo voice first), package it, print the links",
    )
    .option("--data-dir <dir>", "where Redis, S3 and scratch data live", ".mediaq")
    .option("--port <port>", "API port (0 = any free port)", "0")
    .option("--items <n>", "how many sample items with audio", "4")
    .option("--scripts <n>", "how many sample scripts (text -> speech -> talking head)", "2")
    .option("--part-size <size>", "largest ZIP part", "1MB")
    .option("--keep", "keep the stack running afterwards (Ctrl-C stops it)")
    .option(
      "--swap",
      "face swap instead: the demo swapper and recognizer on a clip of the astronaut portrait (fetched once " +
        "with apt-get download python3-skimage), with the portrait as the source face",
    )
    .action(async (o: DemoOptions) => {
      const partSize = parseByteSize(o.partSize);
      if (!partSize) throw new Error(`--part-size: expected a size such as 1MB, got "${o.partSize}"`);
      const stack = await startDevStack({ dataDir: o.dataDir, port: Number(o.port), apiKeys: process.env.API_KEYS });
      try {
        console.log(`stack up: API ${stack.apiUrl}, logs in ${path.join(path.resolve(o.dataDir), "logs")}`);
        const mediaDir = path.join(o.dataDir, "demo-media");
        fs.mkdirSync(mediaDir, { recursive: true });
        const body = o.swap ? await swapBatch(stack, o, mediaDir) : await lipSyncBatch(stack, o, mediaDir);
        const batch = await stack.client.createBatch(body, sha256Hex(JSON.stringify(body)));
        console.log(`batch ${batch.id}: ${batch.total} items`);
        const progress = new BatchProgress();
        const status = await waitForBatch(stack.client, batch.id, (s) => progress.update(s));
        console.log(`batch ${batch.id}: ${status.counts.succeeded} succeeded, ${status.counts.failed} failed`);
        if (status.counts.failed > 0) {
          const failed = await stack.client.listItems(batch.id, { state: "failed" });
          for (const it of failed.items) console.log(`  failed: ${it.name}: ${it.error}`);
        }
        printNoFaceItems(await noFaceItems(stack.client, batch.id));
        const pkg = await stack.client.createPackage(batch.id, { partSize });
        const ready = await waitForPackage(stack.client, pkg.id, (p) => progress.updatePackage(p));
        printPackage(ready);
        if (!o.keep) console.log("\nthe links work while the stack runs: add --keep to keep it running");
        if (o.keep) {
          console.log(`\nstack still running (API key ${stack.apiKey}); Ctrl-C stops it`);
          await untilSignal();
        }
      } finally {
        await stack.stop();
      }
    });
}

/** The plain demo: audio items and scripts, lip-synced by the demo model on a test pattern. */
async function lipSyncBatch(stack: DevStack, o: DemoOptions, mediaDir: string): Promise<DemoBody> {
  const items: DemoItem[] = [];
  for (let i = 1; i <= Number(o.items); i++) {
    const video = path.join(mediaDir, `speaker-${i}.mp4`);
    const audio = path.join(mediaDir, `speaker-${i}.wav`);
    if (!fs.existsSync(video)) await makeVideo(video, { seconds: 2, width: 160, height: 120, frequency: 300 + 40 * i });
    if (!fs.existsSync(audio)) await makeAudio(audio, { seconds: 2, frequency: 180 + 30 * i });
    const [v, a] = [await stack.client.putBlobFile(video), await stack.client.putBlobFile(audio)];
    items.push({ name: `speaker-${i}.mp4`, inputs: { video: v.sha256, audio: a.sha256 } });
  }
  // Scripts: the demo voice speaks each one, then the first speaker's video lip-syncs it
  // (docs/architecture.md#script-to-video).
  const scripts = Number(o.scripts);
  if (scripts > 0) {
    const voice = demoVoicePaths();
    const config = await stack.client.putBlobFile(voice.config);
    await stack.client.putModelFile(voice.model, {
      tag: "demo-voice",
      adapter: "piper",
      config: config.sha256,
    });
    const avatar = await stack.client.putBlobFile(path.join(mediaDir, "speaker-1.mp4"));
    for (let i = 1; i <= scripts; i++) {
      const text = path.join(mediaDir, `script-${i}.txt`);
      fs.writeFileSync(text, DEMO_SCRIPTS[(i - 1) % DEMO_SCRIPTS.length] as string);
      const t = await stack.client.putBlobFile(text);
      items.push({
        name: `script-${i}.mp4`,
        inputs: { video: avatar.sha256, text: t.sha256 },
        params: { voice: "demo-voice" },
      });
    }
  }
  console.log(`uploaded ${Number(o.items) * 2 + scripts} sample files`);
  return { model: "demo", items, params: { box: [40, 30, 80, 70] } };
}

/**
 * `--swap`: the demo swapper (the painting stand-in: it paints the face one colour computed
 * from the source identity) and recognizer, generated in code (packages/worker/scripts/face-swap-models.ts),
 * on clips of the astronaut portrait moving, with the portrait as the source face
 * (docs/architecture.md#face-swap).
 */
async function swapBatch(stack: DevStack, o: DemoOptions, mediaDir: string): Promise<DemoBody> {
  const portrait = astronautPng(path.join(path.resolve(o.dataDir), "cache", "demo"));
  const models = demoSwapModelPaths();
  await stack.client.putModelFile(models.swapper, { tag: "demo-swapper", adapter: "inswapper" });
  await stack.client.putModelFile(models.recognizer, { tag: "demo-recognizer", adapter: "arcface" });
  const face = await stack.client.putBlobFile(portrait);
  const items: DemoItem[] = [];
  for (let i = 1; i <= Number(o.items); i++) {
    const video = path.join(mediaDir, `astronaut-${i}.mp4`);
    if (!fs.existsSync(video)) await makeFaceClip(video, portrait, { seconds: 1.5 + 0.5 * i });
    const v = await stack.client.putBlobFile(video);
    items.push({ name: `astronaut-${i}.mp4`, inputs: { video: v.sha256, face: face.sha256 } });
  }
  console.log(`uploaded ${items.length} face clips and the source face`);
  return { model: "demo-swapper", items, params: { recognizer: "demo-recognizer" } };
}
