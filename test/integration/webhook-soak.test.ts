import { describe, expect, it } from "vitest";
import { runWebhookSoak } from "../harness/webhook-soak.ts";

const MiB = 1024 ** 2;

/**
 * The webhook soak at a size for `pnpm test` (the full size, 20,000 batches and 100,000
 * progress events, is webhook-soak.slow.ts): every item and batch event is delivered or
 * dead-lettered after the notifier was down while progress overflowed event streams.
 */
describe("webhook soak (small)", () => {
  it("2,000 watched batches, 24,000 progress events while the notifier is down: nothing missing", async () => {
    const figures = await runWebhookSoak({
      batches: 2000,
      active: 2,
      progressEvents: 24_000,
      deliverWithinMs: 75_000,
      notifierHeapMiB: 128,
    });
    console.log("webhook soak (small)", {
      ...figures,
      peakRssMiB: figures.peakRssBytes / MiB,
      peakHeapMiB: figures.peakHeapUsedBytes / MiB,
    });
    // Progress did trim item events out of the capped streams: the notifier read them elsewhere.
    expect(figures.trimmedStateEvents).toBeGreaterThan(0);
    expect(figures.missing).toEqual([]);
    expect(figures.delivered).toBe(figures.expected);
    expect(figures.dead).toBe(figures.deadExpected);
    expect(figures.peakRssBytes).toBeLessThan(300 * MiB);
  });
});
