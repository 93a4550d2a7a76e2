import { type Config, isLastAttempt, type Logger, type UrlPolicy, type WebhookLedger } from "@mediaq/shared";
import { type ConnectionOptions, type Job, UnrecoverableError, Worker } from "bullmq";
import type { Dispatcher } from "undici";
import { attemptDelivery, type DeliveryJob, RefusedAddressError } from "./delivery.ts";
import type { NotifierMetrics } from "./metrics.ts";

export const WEBHOOK_QUEUE = "webhook";

export interface DeliveryWorkerDeps {
  connection: ConnectionOptions;
  config: Config;
  logger: Logger;
  webhooks: WebhookLedger;
  agent: Dispatcher;
  policy: UrlPolicy;
  metrics: NotifierMetrics;
}

/**
 * Sends deliveries, WEBHOOK_CONCURRENCY at a time, on a queue of their own: a slow or
 * failing endpoint holds only its own delivery slots, never the pipeline's queues.
 * Retries are BullMQ's (attempts + exponential backoff, set when the job is queued).
 */
export function startDeliveryWorker(d: DeliveryWorkerDeps): Worker<DeliveryJob> {
  const { config, metrics } = d;
  const worker = new Worker<DeliveryJob>(
    WEBHOOK_QUEUE,
    async (job: Job<DeliveryJob>) => {
      const endpoint = await d.webhooks.get(job.data.endpointId);
      // A deleted endpoint takes its pending deliveries with it.
      if (!endpoint) return { skipped: "endpoint deleted" };
      const started = process.hrtime.bigint();
      const seconds = () => Number(process.hrtime.bigint() - started) / 1e9;
      try {
        const { status } = await attemptDelivery(job.data, endpoint, {
          agent: d.agent,
          policy: d.policy,
          timeoutMs: config.WEBHOOK_TIMEOUT_MS,
          maxResponseBytes: config.WEBHOOK_MAX_RESPONSE_BYTES,
        });
        metrics.attempts.inc({ outcome: "delivered", event: job.data.type });
        metrics.latency.observe({ outcome: "delivered" }, seconds());
        await d.webhooks.recordDelivery(endpoint.id, "delivered", {
          webhookId: job.data.webhookId,
          type: job.data.type as never,
          batchId: job.data.batchId,
          attempts: job.attemptsMade + 1,
          status,
          at: new Date().toISOString(),
        });
        return { status };
      } catch (err) {
        const refused = err instanceof RefusedAddressError;
        const last = refused || isLastAttempt(job);
        const outcome = refused ? "refused" : last ? "dead" : "retry";
        metrics.attempts.inc({ outcome, event: job.data.type });
        metrics.latency.observe({ outcome }, seconds());
        const message = (err as Error).message;
        if (last) {
          metrics.deadLetters.inc({ event: job.data.type });
          await d.webhooks.recordDelivery(endpoint.id, "dead", {
            webhookId: job.data.webhookId,
            type: job.data.type as never,
            batchId: job.data.batchId,
            attempts: job.attemptsMade + 1,
            ...((err as { status?: number }).status ? { status: (err as { status: number }).status } : {}),
            error: message,
            at: new Date().toISOString(),
          });
          d.logger.warn({ webhookId: job.data.webhookId, endpointId: endpoint.id, error: message }, "webhook dead");
        }
        // Refused addresses are not retried: the same check would refuse them again.
        throw refused ? new UnrecoverableError(message) : err;
      }
    },
    { connection: d.connection, prefix: config.QUEUE_PREFIX, concurrency: config.WEBHOOK_CONCURRENCY },
  );
  worker.on("error", (err) => d.logger.error({ err }, "webhook delivery worker error"));
  return worker;
}
