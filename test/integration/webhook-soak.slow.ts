import { describe, expect, it } from "vitest";
import { runWebhookSoak } from "../harness/webhook-soak.ts";

const MiB = 1024 ** 2;

/**
 * The webhook soak at full size (issue 21): 20,000 watched batches, the notifier down while
 * 100,000 progress events are written. Every item and batch event is then delivered or
 * dead-lettered, none missing, with the notifier's memory bounded.
 */
describe("webhook soak", () => {
  it("20,000 watched batches, 100,000 progress events while the notifier is down: nothing missing", async () => {
    const figures = await runWebhookSoak({
      batches: 20_000,
      active: 8,
      progressEvents: 100_000,
      deliverWithinMs: 600_000,
      notifierHeapMiB: 128,
    });
    console.log("webhook soak", {
      ...figures,
      peakRssMiB: figures.peakRssBytes / MiB,
      peakHeapMiB: figures.peakHeapUsedBytes / MiB,
    });
    expect(figures.trimmedStateEvents).toBeGreaterThan(0);
    expect(figures.missing).toEqual([]);
    expect(figures.delivered).toBe(figures.expected);
    expect(figures.dead).toBe(figures.deadExpected);
    expect(figures.peakRssBytes).toBeLessThan(300 * MiB);
  });
});
