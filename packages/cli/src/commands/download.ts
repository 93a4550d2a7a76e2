import type { Command } from "commander";
import { SingleBar } from "cli-progress";
import { downloadPackage } from "../download.ts";
import { clientFrom } from "./batches.ts";

export function registerDownload(program: Command): void {
  program
    .command("download <package> <dir>")
    .description("download a package's parts (parallel, resumable), verify them against SHA256SUMS")
    .option("--extract", "also unzip every part into <dir>")
    .option("--concurrency <n>", "parts at a time", "3")
    .option("--retries <n>", "fetch a part that fails its SHA-256 (or its transfer) again up to n times", "3")
    .option("--json", "machine-readable output")
    .action(
      async (
        id: string,
        dir: string,
        o: { extract?: boolean; concurrency: string; retries: string; json?: boolean },
      ) => {
        const retries = Number(o.retries);
        if (!Number.isInteger(retries) || retries < 0)
          throw new Error(`--retries: expected a whole number >= 0, got "${o.retries}"`);
        const client = clientFrom(program);
        const pkg = await client.getPackage(id);
        const total = pkg.parts.reduce((n, p) => n + p.size, 0);
        const bar =
          process.stderr.isTTY && !o.json
            ? new SingleBar({
                format: "download [{bar}] {percentage}% | {value}/{total} bytes",
                stream: process.stderr,
              })
            : undefined;
        bar?.start(total, 0);
        const refetched: { part: string; attempt: number; reason: string }[] = [];
        const files = await downloadPackage(pkg, dir, {
          extract: o.extract,
          concurrency: Number(o.concurrency),
          onBytes: (n) => bar?.increment(n),
          retries,
          // The package's links may have expired meanwhile: the API signs fresh ones.
          freshUrl: async (name) => {
            const part = (await client.getPackage(id)).parts.find((p) => p.name === name);
            if (!part) throw new Error(`package ${id} has no part ${name} any more`);
            return part.url;
          },
          onRetry: (part, attempt, reason) => {
            refetched.push({ part, attempt, reason });
            if (!o.json)
              console.error(`mediaq download: ${part}: ${reason}; fetching it again (${attempt} of ${retries})`);
          },
        });
        bar?.stop();
        if (o.json) console.log(JSON.stringify({ id, files, refetched }, null, 2));
        else console.log(`${files.length} parts in ${dir}, all match SHA256SUMS${o.extract ? ", extracted" : ""}`);
      },
    );
}
