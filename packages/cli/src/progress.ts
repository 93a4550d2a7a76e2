import { SingleBar } from "cli-progress";
import type { BatchStatus, PackageView } from "./api-client.ts";
import { formatBytes } from "@mediaq/shared";

/** A progress bar on a terminal; one line per change elsewhere (logs, CI, pipes). */
export class BatchProgress {
  private bar?: SingleBar;
  private last = "";

  private readonly tty: boolean;

  constructor(tty = Boolean(process.stderr.isTTY)) {
    this.tty = tty;
  }

  update(s: BatchStatus): void {
    const finished = s.counts.succeeded + s.counts.failed;
    const detail = `${s.counts.succeeded} ok, ${s.counts.failed} failed, ${s.counts.running} running, ${s.counts.pending} pending`;
    if (this.tty) {
      this.bar ??= new SingleBar({
        format: "batch [{bar}] {percentage}% | {value}/{total} | {detail}",
        stream: process.stderr,
      });
      if (!this.bar.isActive) this.bar.start(s.total, finished, { detail });
      this.bar.setTotal(s.total);
      this.bar.update(finished, { detail });
      if (s.done) this.bar.stop();
      return;
    }
    const line = `batch ${s.id}: ${finished}/${s.total} (${detail})`;
    if (line !== this.last) process.stderr.write(`${line}\n`);
    this.last = line;
  }

  updatePackage(p: PackageView): void {
    const line = `package ${p.id}: ${p.state}${p.totalBytes ? ` ${formatBytes(p.bytesWritten ?? 0)} / ${formatBytes(p.totalBytes)}` : ""}`;
    if (line !== this.last) process.stderr.write(`${line}\n`);
    this.last = line;
  }
}

export function printPackage(p: PackageView, out: (line: string) => void = console.log): void {
  out(`package ${p.id} (links expire ${p.expiresAt})`);
  for (const part of p.parts) out(`  ${part.name}  ${formatBytes(part.size)}  sha256 ${part.sha256}\n    ${part.url}`);
  if (p.manifest) out(`  manifest.json\n    ${p.manifest.url}`);
  if (p.sha256sums) out(`  SHA256SUMS\n    ${p.sha256sums.url}`);
}
