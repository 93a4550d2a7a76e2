import type { Ledger, PackageState, PackageStore } from "@mediaq/shared";

export interface ProgressTarget {
  store: PackageStore;
  ledger: Ledger;
  packageId: string;
  batchId: string;
  expiresAt: string;
  totalBytes: number;
}

/** Publishes a package's state and bytes on the batch's event stream. */
export function publishPackage(
  t: Pick<ProgressTarget, "ledger" | "batchId" | "packageId" | "totalBytes">,
  state: PackageState,
  bytes: number,
): Promise<void> {
  return t.ledger.events.publish([t.batchId], {
    type: "package",
    packageId: t.packageId,
    state,
    bytes,
    totalBytes: t.totalBytes,
  });
}

/**
 * Bytes written by one part job. Parts of a package build in different processes, so
 * each part's count goes to a Redis hash and the package's total (the sum) to the record
 * and the batch's event stream, at most every intervalMs. Updates run one at a time and
 * close() waits for the last, so a late write never lands after the part is finished.
 */
export class PartProgress {
  private chain: Promise<void> = Promise.resolve();
  private lastSent = 0;
  private latest = 0;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  private readonly target: ProgressTarget;
  private readonly part: string;
  private readonly intervalMs: number;

  constructor(target: ProgressTarget, part: string, intervalMs = 500) {
    this.target = target;
    this.part = part;
    this.intervalMs = intervalMs;
  }

  report(bytes: number): void {
    this.latest = bytes;
    if (this.closed || this.timer) return;
    const wait = Math.max(0, this.lastSent + this.intervalMs - Date.now());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.lastSent = Date.now();
      this.send();
    }, wait);
  }

  private send(): Promise<void> {
    const bytes = this.latest;
    const t = this.target;
    this.chain = this.chain
      .then(async () => {
        const total = await t.ledger.packageBuilds.recordPartBytes(t.packageId, t.expiresAt, this.part, bytes);
        await t.store.update(t.packageId, { bytesWritten: total, totalBytes: t.totalBytes });
        await publishPackage(t, "building", total);
      })
      .catch(() => {}); // progress is best effort; the part's result is what counts
    return this.chain;
  }

  /** Sends the final count and waits for every update. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.send();
  }
}
