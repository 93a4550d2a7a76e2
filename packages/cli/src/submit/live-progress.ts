import { MultiBar, Presets, type SingleBar } from "cli-progress";
import type { ApiClient, BatchStatus } from "../api-client.ts";

/**
 * `submit --wait` display: an overall bar plus one line per running item, fed by the
 * batch's event stream. Without a terminal it prints a line per finished item instead.
 */
export class LiveProgress {
  private readonly multi?: MultiBar;
  private overall?: SingleBar;
  private readonly running = new Map<string, SingleBar>();
  /** Items already finished: a late progress event must not bring their line back. */
  private readonly finished = new Set<string>();
  private readonly abort = new AbortController();
  /** Wakes stop() when an item finishes on the stream. */
  private onFinish?: () => void;

  private readonly client: ApiClient;
  private readonly names: Map<string, string>;

  constructor(client: ApiClient, names: Map<string, string>, tty = Boolean(process.stderr.isTTY)) {
    this.client = client;
    this.names = names;
    if (tty) {
      this.multi = new MultiBar(
        {
          format: "{label} [{bar}] {percentage}% | {detail}",
          stream: process.stderr,
          hideCursor: true,
          clearOnComplete: false,
        },
        Presets.shades_classic,
      );
    }
  }

  /**
   * Follows the event stream in the background until stop(). It reads from the start of
   * the batch's stream: an item can finish before the stream is open.
   */
  follow(batchId: string): void {
    void (async () => {
      for await (const event of this.client.events(batchId, { lastEventId: "0-0", signal: this.abort.signal })) {
        const name = "jobKey" in event ? (this.names.get(event.jobKey) ?? event.jobKey.slice(0, 12)) : "";
        if (event.type === "progress" && this.multi && !this.finished.has(event.jobKey)) {
          let bar = this.running.get(event.jobKey);
          if (!bar) {
            bar = this.multi.create(event.total, 0, { label: name.padEnd(24).slice(0, 24), detail: event.stage });
            this.running.set(event.jobKey, bar);
          }
          bar.setTotal(event.total);
          bar.update(event.done, { detail: event.stage });
        }
        if (event.type === "item" && (event.state === "succeeded" || event.state === "failed")) {
          this.finished.add(event.jobKey);
          this.onFinish?.();
          const bar = this.running.get(event.jobKey);
          if (bar) {
            this.multi?.remove(bar);
            this.running.delete(event.jobKey);
          }
          const line = `${event.state === "succeeded" ? "done  " : "FAILED"} ${name}${event.error ? `: ${event.error}` : ""}`;
          if (this.multi) this.multi.log(`${line}\n`);
          else process.stderr.write(`${line}\n`);
        }
      }
    })().catch(() => {});
  }

  update(s: BatchStatus): void {
    const finished = s.counts.succeeded + s.counts.failed;
    const detail = `${s.counts.succeeded} ok, ${s.counts.failed} failed, ${s.counts.running} running, ${s.counts.pending} pending`;
    if (!this.multi) return;
    this.overall ??= this.multi.create(s.total, finished, { label: "batch".padEnd(24), detail });
    this.overall.setTotal(s.total);
    this.overall.update(finished, { detail });
  }

  /**
   * Stops following. The status can say done before the stream has delivered the last
   * items' events, so it first waits (at most `settleMs`) until every item in `awaited`
   * has finished on the stream, and their lines are printed.
   */
  async stop(awaited: Iterable<string> = [], settleMs = 5000): Promise<void> {
    const pending = () => [...awaited].some((key) => !this.finished.has(key));
    const deadline = Date.now() + settleMs;
    while (pending() && Date.now() < deadline) {
      await new Promise<void>((resolve) => {
        this.onFinish = resolve;
        setTimeout(resolve, Math.max(0, deadline - Date.now())).unref();
      });
    }
    this.onFinish = undefined;
    this.abort.abort();
    // MultiBar writes logged lines on its next redraw, and stop() does not redraw: flush them.
    this.multi?.update();
    this.multi?.stop();
  }
}
