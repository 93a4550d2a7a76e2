import type { Ledger, PackageState, PackageStore } from "@mediaq/shared";

/**
 * Bytes written across the parts being built, written to the package record and the
 * batch's event stream at most every intervalMs. Updates run one at a time, and close()
 * waits for the last, so a late progress write never overwrites the final state.
 */
export class PackageProgress {
  private readonly perPart = new Map<string, number>();
  private chain: Promise<void> = Promise.resolve();
  private lastSent = 0;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly store: PackageStore,
    private readonly ledger: Ledger,
    private readonly packageId: string,
    private readonly batchId: string,
    private readonly totalBytes: number,
    private readonly intervalMs = 500,
  ) {}

  get bytes(): number {
    let sum = 0;
    for (const b of this.perPart.values()) sum += b;
    return sum;
  }

  report(part: string, bytes: number): void {
    this.perPart.set(part, bytes);
    if (this.closed || this.timer) return;
    const wait = Math.max(0, this.lastSent + this.intervalMs - Date.now());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.lastSent = Date.now();
      this.send("building");
    }, wait);
  }

  /** Publishes the state (and, while building, records the bytes) after earlier updates. */
  send(state: PackageState): Promise<void> {
    const bytes = this.bytes;
    this.chain = this.chain.then(async () => {
      if (state === "building")
        await this.store.update(this.packageId, { bytesWritten: bytes, totalBytes: this.totalBytes });
      await this.ledger.publish([this.batchId], {
        type: "package",
        packageId: this.packageId,
        state,
        bytes,
        totalBytes: this.totalBytes,
      });
    });
    this.chain = this.chain.catch(() => {});
    return this.chain;
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.chain;
  }
}
