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
    .option("--json", "machine-readable output")
    .action(async (id: string, dir: string, o: { extract?: boolean; concurrency: string; json?: boolean }) => {
      const pkg = await clientFrom(program).getPackage(id);
      const total = pkg.parts.reduce((n, p) => n + p.size, 0);
      const bar =
        process.stderr.isTTY && !o.json
          ? new SingleBar({ format: "download [{bar}] {percentage}% | {value}/{total} bytes", stream: process.stderr })
          : undefined;
      bar?.start(total, 0);
      const files = await downloadPackage(pkg, dir, {
        extract: o.extract,
        concurrency: Number(o.concurrency),
        onBytes: (n) => bar?.increment(n),
      });
      bar?.stop();
      if (o.json) console.log(JSON.stringify({ id, files }, null, 2));
      else console.log(`${files.length} parts in ${dir}, all match SHA256SUMS${o.extract ? ", extracted" : ""}`);
    });
}
