import { describeWebhookSoak } from "../harness/webhook-soak.ts";

// The webhook soak at full size (issue 21); webhook-soak.test.ts runs it at a size for `pnpm test`.
describeWebhookSoak("webhook soak", {
  batches: 20_000,
  active: 8,
  progressEvents: 100_000,
  deliverWithinMs: 600_000,
  notifierHeapMiB: 128,
});
