import fs from "node:fs";
import path from "node:path";
import { parseByteSize, sha256Hex } from "@mediaq/shared";
import type { Command } from "commander";
import { demoVoicePaths, startDevStack } from "../dev-stack.ts";
import { BatchProgress, printPackage } from "../progress.ts";
import { makeAudio, makeVideo } from "../sample-media.ts";
import { waitForBatch, waitForPackage } from "../wait.ts";
import { untilSignal } from "./dev.ts";

interface DemoOptions {
  dataDir: string;
  port: string;
  items: string;
  scripts: string;
  partSize: string;
  keep?: boolean;
}

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
    .action(async (o: DemoOptions) => {
      const partSize = parseByteSize(o.partSize);
      if (!partSize) throw new Error(`--part-size: expected a size such as 1MB, got "${o.partSize}"`);
      const stack = await startDevStack({ dataDir: o.dataDir, port: Number(o.port), apiKeys: process.env.API_KEYS });
      try {
        console.log(`stack up: API ${stack.apiUrl}, logs in ${path.join(path.resolve(o.dataDir), "logs")}`);
        const mediaDir = path.join(o.dataDir, "demo-media");
        fs.mkdirSync(mediaDir, { recursive: true });
        const items: { name: string; inputs: Record<string, string>; params?: Record<string, unknown> }[] = [];
        for (let i = 1; i <= Number(o.items); i++) {
          const video = path.join(mediaDir, `speaker-${i}.mp4`);
          const audio = path.join(mediaDir, `speaker-${i}.wav`);
          if (!fs.existsSync(video))
            await makeVideo(video, { seconds: 2, width: 160, height: 120, frequency: 300 + 40 * i });
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
        const body = { model: "demo", items, params: { box: [40, 30, 80, 70] } };
        const batch = await stack.client.createBatch(body, sha256Hex(JSON.stringify(body)));
        console.log(`batch ${batch.id}: ${batch.total} items`);
        const progress = new BatchProgress();
        const status = await waitForBatch(stack.client, batch.id, (s) => progress.update(s));
        if (status.counts.failed > 0) {
          const failed = await stack.client.listItems(batch.id, { state: "failed" });
          for (const it of failed.items) console.log(`  failed: ${it.name}: ${it.error}`);
        }
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
