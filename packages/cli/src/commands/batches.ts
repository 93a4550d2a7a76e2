import { parseByteSize } from "@mediaq/shared";
import type { Command } from "commander";
import { ApiClient } from "../api-client.ts";
import { noFaceItems, printNoFaceItems } from "../face-notes.ts";
import { BatchProgress, printPackage } from "../progress.ts";
import { waitForPackage } from "../wait.ts";

/** The API address: --api-url, else $MEDIAQ_API_URL (read when used: `--env` may have set it). */
export function apiUrlFrom(program: Command): string {
  return program.opts<{ apiUrl?: string }>().apiUrl ?? process.env.MEDIAQ_API_URL ?? "http://127.0.0.1:8080";
}

export function clientFrom(program: Command): ApiClient {
  const apiKey = program.opts<{ apiKey?: string }>().apiKey ?? process.env.MEDIAQ_API_KEY;
  if (!apiKey)
    throw new Error(
      "no API key: pass --api-key, set MEDIAQ_API_KEY or use --env <data-dir>/env (mediaq dev writes it)",
    );
  return new ApiClient(apiUrlFrom(program), apiKey);
}

/** The page's deep link to a batch (packages/api/web/app.js routes #/batches/<id>). */
export function batchPageUrl(apiUrl: string, id: string): string {
  return new URL(`/#/batches/${encodeURIComponent(id)}`, apiUrl).toString();
}

export function registerBatchCommands(program: Command): void {
  program
    .command("open <batch>")
    .description("print the web page's address of a batch (open it in a browser)")
    .action((id: string) => {
      console.log(batchPageUrl(apiUrlFrom(program), id));
    });

  program
    .command("status <batch>")
    .description("show a batch's counts and its failed items")
    .option("--json", "machine-readable output")
    .action(async (id: string, o: { json?: boolean }) => {
      const client = clientFrom(program);
      const status = await client.getBatch(id);
      const failed =
        status.counts.failed > 0 ? (await client.listItems(id, { state: "failed", limit: 100 })).items : [];
      const noFace = status.counts.succeeded > 0 ? await noFaceItems(client, id) : [];
      if (o.json) return console.log(JSON.stringify({ ...status, failed, noFace }, null, 2));
      const c = status.counts;
      console.log(
        `batch ${id}: ${c.succeeded}/${status.total} succeeded, ${c.failed} failed, ${c.running} running, ${c.pending} pending${status.done ? " (done)" : ""}`,
      );
      for (const it of failed) console.log(`  failed #${it.index} ${it.name}: ${it.error ?? "unknown error"}`);
      printNoFaceItems(noFace);
    });

  program
    .command("retry <batch>")
    .description("re-queue a batch's failed items")
    .option("--json", "machine-readable output")
    .action(async (id: string, o: { json?: boolean }) => {
      const result = await clientFrom(program).retryBatch(id);
      console.log(o.json ? JSON.stringify(result) : `${result.retried} failed items re-queued`);
    });

  program
    .command("package <batch>")
    .description("package a batch's outputs as split ZIP parts and print presigned links")
    .option("--part-size <size>", "largest part, e.g. 2GB")
    .option("--expires-in <seconds>", "link lifetime in seconds (at most 7 days)")
    .option("--no-wait", "return at once instead of waiting until it is ready")
    .option("--json", "machine-readable output")
    .action(async (id: string, o: { partSize?: string; expiresIn?: string; wait: boolean; json?: boolean }) => {
      const client = clientFrom(program);
      const partSize = o.partSize === undefined ? undefined : parseByteSize(o.partSize);
      if (o.partSize !== undefined && !partSize)
        throw new Error(`--part-size: expected a size such as 2GB, got "${o.partSize}"`);
      const created = await client.createPackage(id, {
        partSize,
        expiresIn: o.expiresIn ? Number(o.expiresIn) : undefined,
      });
      const progress = new BatchProgress();
      const pkg = o.wait
        ? await waitForPackage(client, created.id, (p) => o.json || progress.updatePackage(p))
        : await client.getPackage(created.id);
      if (o.json) console.log(JSON.stringify(pkg, null, 2));
      else printPackage(pkg);
    });
}
