import { createMetricsRegistry } from "@mediaq/shared";
import { Counter, Histogram, type Registry } from "prom-client";

export interface NotifierMetrics {
  registry: Registry;
  /** Attempts by outcome: delivered, retry (failed, will be tried again), dead, refused (address check). */
  attempts: Counter<"outcome" | "event">;
  /** Time from sending to the endpoint's full answer, per attempt. */
  latency: Histogram<"outcome">;
  /** Deliveries that ended in the dead-letter list. */
  deadLetters: Counter<"event">;
}

export function createNotifierMetrics(): NotifierMetrics {
  const registry = createMetricsRegistry("notifier");
  return {
    registry,
    attempts: new Counter({
      name: "mediaq_webhook_attempts_total",
      help: "Webhook delivery attempts by outcome (delivered, retry, dead, refused)",
      labelNames: ["outcome", "event"],
      registers: [registry],
    }),
    latency: new Histogram({
      name: "mediaq_webhook_attempt_seconds",
      help: "Webhook attempt duration, send to full answer or failure",
      labelNames: ["outcome"],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    }),
    deadLetters: new Counter({
      name: "mediaq_webhook_dead_letters_total",
      help: "Webhook deliveries that exhausted their attempts or were refused",
      labelNames: ["event"],
      registers: [registry],
    }),
  };
}
