/**
 * A job's hold on the card, a mutex taken at its first model call and kept to its last, so
 * model calls never interleave (docs/architecture.md#frame-path). `span` is when it was held.
 */
import type { MutexInterface } from "async-mutex";

export class CardHold {
  span: [number, number] | undefined;
  private release: (() => void) | undefined;
  private readonly lock: MutexInterface;

  constructor(lock: MutexInterface) {
    this.lock = lock;
  }

  /** Before each model call: waits for the card the first time. */
  async take(): Promise<void> {
    if (this.release) return;
    this.release = await this.lock.acquire();
    this.span = [Date.now(), Date.now()];
  }

  /** After the last model call (or a failure): lets the card go. */
  letGo(): void {
    if (this.span) this.span[1] = Date.now();
    this.release?.();
  }
}
