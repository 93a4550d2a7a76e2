import { createMetricsRegistry } from "@mediaq/shared";
import type { FastifyInstance } from "fastify";
import { Gauge, Histogram } from "prom-client";
import type { ApiDeps } from "../deps.ts";

const QUEUE_STATES = [
  "waiting",
  "active",
  "delayed",
  "prioritized",
  "waiting-children",
  "completed",
  "failed",
] as const;

/** /metrics: HTTP latency per route and the depth of each queue per job state. */
export function registerMetrics(app: FastifyInstance, deps: ApiDeps): void {
  const registry = createMetricsRegistry("api");
  const latency = new Histogram({
    name: "mediaq_http_request_duration_seconds",
    help: "HTTP request latency by method, route pattern and status",
    labelNames: ["method", "route", "status"],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  new Gauge({
    name: "mediaq_queue_jobs",
    help: "Jobs per queue and BullMQ state",
    labelNames: ["queue", "state"],
    registers: [registry],
    async collect() {
      for (const queue of [deps.inferenceQueue, deps.packageQueue]) {
        const counts = await queue.getJobCounts(...QUEUE_STATES);
        for (const state of QUEUE_STATES) this.set({ queue: queue.name, state }, counts[state] ?? 0);
      }
    },
  });

  app.addHook("onResponse", async (request, reply) => {
    // The route pattern, not the URL, keeps label cardinality bounded.
    const route = request.routeOptions.url ?? "unmatched";
    latency.observe({ method: request.method, route, status: String(reply.statusCode) }, reply.elapsedTime / 1000);
  });
  app.get("/metrics", { schema: { hide: true } }, async (_request, reply) => {
    reply.type(registry.contentType);
    return registry.metrics();
  });
}
