import { describeWebhookSoak } from "../harness/webhook-soak.ts";

// The webhook soak at a size for `pnpm test`; webhook-soak.slow.ts runs the full size
// (20,000 batches, 100,000 progress events).
describeWebhookSoak("webhook soak (small)", {
  batches: 2000,
  active: 2,
  progressEvents: 24_000,
  deliverWithinMs: 75_000,
  notifierHeapMiB: 128,
});
