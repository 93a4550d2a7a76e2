import {
  blockingClientOf,
  type Config,
  createRedis,
  createS3,
  Ledger,
  ledgerOptionsFrom,
  type Logger,
  type Resolve,
} from "@mediaq/shared";
import { Queue } from "bullmq";
import type { Redis } from "ioredis";
import type { Counter } from "prom-client";
import type { DeliveryJob } from "./delivery.ts";
import { startDeliveryWorker, WEBHOOK_QUEUE } from "./delivery-worker.ts";
import { EventReader } from "./event-reader.ts";
import { createNotifierMetrics, type NotifierMetrics } from "./metrics.ts";
import { createSafeAgent, systemResolve } from "./safe-agent.ts";

export { checkedLookup, createSafeAgent, systemResolve } from "./safe-agent.ts";
export { WEBHOOK_QUEUE } from "./delivery-worker.ts";
export type { DeliveryJob } from "./delivery.ts";

export interface NotifierOptions {
  logger: Logger;
  /** How delivery hosts are resolved (tests map names to chosen addresses); dns.lookup by default. */
  resolve?: Resolve;
  /** The process's count of Redis rebuilds (main.ts keeps it across rebuilds), served with the metrics. */
  redisRebuilds?: Counter;
}

export interface RunningNotifier {
  metrics: NotifierMetrics;
  queue: Queue<DeliveryJob>;
  close(): Promise<void>;
  /** Its Redis clients, the delivery worker's blocking one included (watched by keepConnected). */
  connections(): Promise<Redis[]>;
  /** Redis is back after a disconnect: look for stalled deliveries now. */
  reconnected(): void;
  /** Drops its connections at once (a rebuild whose close did not finish). */
  disconnect(): void;
}

/** The notifier: reads batch events of watched batches, delivers signed webhooks (docs/architecture.md#webhooks). */
export function startNotifier(config: Config, o: NotifierOptions): RunningNotifier {
  const redis = createRedis(config);
  const workerRedis = createRedis(config);
  const s3 = createS3(config);
  const metrics = createNotifierMetrics();
  if (o.redisRebuilds) metrics.registry.registerMetric(o.redisRebuilds);
  const ledger = new Ledger(redis, ledgerOptionsFrom(config));
  const queue = new Queue<DeliveryJob>(WEBHOOK_QUEUE, { connection: redis, prefix: config.QUEUE_PREFIX });
  const policy = {
    allowHttp: config.WEBHOOK_ALLOW_HTTP,
    allowLoopback: config.WEBHOOK_ALLOW_LOOPBACK_FOR_TESTS,
  };
  const agent = createSafeAgent({
    ...policy,
    resolve: o.resolve ?? systemResolve,
    timeoutMs: config.WEBHOOK_TIMEOUT_MS,
    connections: 4,
  });
  const reader = new EventReader({
    ledger,
    s3,
    queue,
    config,
    logger: o.logger,
  });
  reader.start();
  const worker = startDeliveryWorker({
    connection: workerRedis,
    config,
    logger: o.logger,
    webhooks: ledger.webhooks,
    agent,
    policy,
    metrics,
  });
  return {
    metrics,
    queue,
    async close() {
      await reader.close();
      await worker.close();
      await queue.close();
      await agent.close();
      s3.destroy();
      await Promise.all([redis.quit(), workerRedis.quit()]);
    },
    async connections() {
      const blocking = await blockingClientOf(worker);
      return [redis, workerRedis, ...(blocking ? [blocking] : [])];
    },
    reconnected() {
      worker.startStalledCheckTimer().catch((err) => o.logger.error({ err }, "stalled check failed"));
    },
    disconnect() {
      void reader.close().catch(() => undefined);
      worker.disconnect().catch(() => undefined);
      redis.disconnect();
      workerRedis.disconnect();
    },
  };
}
