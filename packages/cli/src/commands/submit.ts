import { SingleBar } from "cli-progress";
import {
  formatBytes,
  parseByteSize,
  type ScriptItem,
  sha256Hex,
  submissionBody,
  submitInChunks,
  type WebhookEventType,
} from "@mediaq/shared";
import type { Command } from "commander";
import fs from "node:fs";
import { downloadPackage } from "../download.ts";
import { LiveProgress } from "../submit/live-progress.ts";
import { isScriptFolder, readFaceSwap, readScripts, readSubmission } from "../submit/inputs.ts";
import { hashFile, uploadMissing } from "../submit/upload.ts";
import { noFaceItems } from "../face-notes.ts";
import { waitForBatch, waitForPackage } from "../wait.ts";
import { clientFrom } from "./batches.ts";

/** Exit code when the batch finished but some items failed. */
export const EXIT_ITEMS_FAILED = 3;

/** `--params box=[0,0,96,96] --params pads=[0,10,0,0]`: values are JSON when they parse, text otherwise. */
function collectParam(pair: string, acc: Record<string, unknown>): Record<string, unknown> {
  const at = pair.indexOf("=");
  if (at <= 0) throw new Error(`--params: expected key=value, got "${pair}"`);
  const raw = pair.slice(at + 1);
  let value: unknown = raw;
  try {
    value = JSON.parse(raw);
  } catch {
    // plain text value
  }
  return { ...acc, [pair.slice(0, at)]: value };
}

/** Script items' inputs by file: with a video, --voice speaks them first; alone, they are speech items. */
function scriptInputs(
  items: ScriptItem[],
  voice: string | undefined,
): { name: string; inputs: Record<string, string> }[] {
  const lipSync = items.some((i) => i.video);
  if (lipSync && !voice) throw new Error("cannot submit: scripts with a video need --voice <voice tag>");
  if (!lipSync && voice)
    throw new Error("cannot submit: scripts without a video are speech items: give the voice as --model");
  return items.map((i) => ({
    name: i.name,
    inputs: i.video ? { video: i.video, text: i.text } : ({ text: i.text } as Record<string, string>),
  }));
}

export function registerSubmit(program: Command): void {
  program
    .command("submit <source>")
    .description(
      "submit a folder (<name>.mp4 + <name>.wav|.mp3|.m4a), a folder of scripts (<name>.txt + <name>.mp4, " +
        "many .txt + one avatar .mp4 with --voice, or .txt alone with a voice as --model), a CSV (name,video,audio), " +
        "or with --face a folder of videos for face swap; re-running resumes",
    )
    .requiredOption("--model <tag>", "model tag or hash, e.g. demo (a voice for a folder of .txt alone)")
    .option("--voice <tag>", "the voice (piper model tag or hash) that speaks .txt scripts before lip-sync")
    .option("--params <key=value>", "parameter for every item (repeatable), e.g. box=[40,30,80,70]", collectParam, {})
    .option(
      "--face <image>",
      "face swap: put the face of this PNG/JPEG on every video of the folder (model: an inswapper tag; " +
        "give the recognizer with --params recognizer=<arcface tag>)",
    )
    .option("--wait", "follow progress until every item finished")
    .option("--download <dir>", "when done, package the outputs and download them here (implies --wait)")
    .option("--part-size <size>", "largest ZIP part with --download, e.g. 2GB")
    .option("--extract", "with --download, also unzip the parts")
    .option("--webhook <url>", "POST signed events here when items, the batch and its packages finish")
    .option("--webhook-events <types>", "comma-separated event types for --webhook (default: all)")
    .option("--json", "machine-readable output")
    .action(
      async (
        source: string,
        o: {
          model: string;
          face?: string;
          voice?: string;
          params: Record<string, unknown>;
          wait?: boolean;
          download?: string;
          partSize?: string;
          extract?: boolean;
          json?: boolean;
          webhook?: string;
          webhookEvents?: string;
        },
      ) => {
        const client = clientFrom(program);
        const say = (line: string) => o.json || console.error(line);
        const face = o.face;
        const items: { name: string; inputs: Record<string, string> }[] = face
          ? readFaceSwap(source, face).map((s) => ({ name: s.name, inputs: { video: s.video, face } }))
          : isScriptFolder(source)
            ? scriptInputs(readScripts(source), o.voice)
            : readSubmission(source).map((i) => ({ name: i.name, inputs: { video: i.video, audio: i.audio } }));
        const params = o.voice ? { ...o.params, voice: o.voice } : o.params;
        const files = [...new Set(items.flatMap((i) => Object.values(i.inputs)))];
        const totalBytes = files.reduce((n, f) => n + fs.statSync(f).size, 0);

        const tty = Boolean(process.stderr.isTTY) && !o.json;
        const bar = tty
          ? new SingleBar({ format: "hashing [{bar}] {percentage}% | {value}/{total} bytes", stream: process.stderr })
          : undefined;
        bar?.start(totalBytes, 0);
        const hashes = new Map<string, Awaited<ReturnType<typeof hashFile>>>();
        for (const f of files) hashes.set(f, await hashFile(f, (n) => bar?.increment(n)));
        bar?.stop();
        const uploaded = await uploadMissing(
          client,
          [...hashes.values()],
          (b, up) => up && say(`uploaded ${b.file} (${formatBytes(b.size)})`),
        );
        say(
          `${files.length} files hashed (${formatBytes(totalBytes)}), ${uploaded} uploaded, ${new Set([...hashes.values()].map((h) => h.sha256)).size - uploaded} already on the server`,
        );

        const body = submissionBody({ model: o.model, params, items: [] });
        body.items = items.map((i) => ({
          name: i.name,
          inputs: Object.fromEntries(Object.entries(i.inputs).map(([k, f]) => [k, hashes.get(f)?.sha256 as string])),
        }));
        if (o.webhook)
          body.webhook = {
            url: o.webhook,
            events: o.webhookEvents?.split(",").map((e) => e.trim() as WebhookEventType),
          };
        const answers = await submitInChunks(client, body, sha256Hex);
        const last = answers[answers.length - 1] ?? answers[0];
        const batch = { ...last, id: answers[0].id, items: answers.flatMap((a) => a.items) };
        say(`batch ${batch.id}: ${batch.total} items, ${batch.counts.succeeded} already done`);
        // The secret is shown once: only the answer that made the batch carries it.
        const webhook = answers[0]?.webhook;
        if (webhook?.secret) say(`webhook ${webhook.id} -> ${webhook.url}, signing secret ${webhook.secret}`);

        let status = await client.getBatch(batch.id);
        let noFace: Awaited<ReturnType<typeof noFaceItems>> = [];
        if (o.wait || o.download) {
          const live = new LiveProgress(client, new Map(batch.items.map((i) => [i.jobKey, i.name])), tty);
          live.follow(batch.id);
          try {
            status = await waitForBatch(client, batch.id, (s) => live.update(s), { intervalMs: 1000 });
          } finally {
            // Items not finished at submit each end with an event; their lines come first.
            const awaited = batch.items.filter((i) => i.state !== "succeeded" && i.state !== "failed");
            await live.stop(awaited.map((i) => i.jobKey));
          }
          say(`batch ${batch.id}: ${status.counts.succeeded} succeeded, ${status.counts.failed} failed`);
          noFace = await noFaceItems(client, batch.id);
          for (const it of noFace) say(`  #${it.index} ${it.name}: ${it.note}`);
        }
        let downloaded: string[] = [];
        if (o.download) {
          const partSize = o.partSize ? parseByteSize(o.partSize) : undefined;
          const pkg = await waitForPackage(client, (await client.createPackage(batch.id, { partSize })).id);
          downloaded = await downloadPackage(pkg, o.download, { extract: o.extract });
          say(`downloaded ${downloaded.length} parts to ${o.download} (checked against SHA256SUMS)`);
        }
        if (o.json) console.log(JSON.stringify({ batch: status, uploaded, downloaded, noFace }, null, 2));
        if (status.counts.failed > 0) process.exitCode = EXIT_ITEMS_FAILED;
      },
    );
}
