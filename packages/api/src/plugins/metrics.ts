import { createMetricsRegistry } from "@mediaq/shared";
import type { FastifyInstance } from "fastify";
import { Gauge, Histogram, type Registry } from "prom-client";
import { sameSecret } from "../api-keys.ts";
import type { ApiDeps } from "../deps.ts";
import { HttpProblem } from "../problem.ts";
import { bearerToken } from "./auth.ts";
import type { Limiters } from "./rate-limit.ts";

const QUEUE_STATES = [
  "waiting",
  "active",
  "delayed",
  "prioritized",
  "waiting-children",
  "completed",
  "failed",
] as const;

/**
 * HTTP latency per route and the depth of each queue per job state. Metrics say how busy
 * the service is and cost queue reads, so they are not public: with METRICS_PORT they are
 * served on that separate listener only (startApi), else /metrics asks for METRICS_TOKEN as
 * a Bearer token, else it is off.
 */
export function registerMetrics(app: FastifyInstance, deps: ApiDeps, limits: Limiters): Registry {
  const { METRICS_PORT, METRICS_TOKEN } = deps.config;
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
  app.get("/metrics", { schema: { hide: true } }, async (request, reply) => {
    if (METRICS_PORT !== undefined || !METRICS_TOKEN)
      throw new HttpProblem(
        404,
        "metrics-off",
        "Not found",
        METRICS_PORT !== undefined
          ? "Metrics are served on the metrics port (METRICS_PORT), not here."
          : "Metrics are off: set METRICS_TOKEN (then scrape with it as a Bearer token) or METRICS_PORT.",
      );
    if (!sameSecret(bearerToken(request.headers.authorization) ?? "", METRICS_TOKEN)) {
      if (await limits.authFailures(request, reply)) return reply;
      reply.header("www-authenticate", 'Bearer realm="mediaq metrics"');
      throw new HttpProblem(
        401,
        "unauthorized",
        "Unauthorized",
        'Send METRICS_TOKEN as "Authorization: Bearer <token>".',
      );
    }
    reply.type(registry.contentType);
    return registry.metrics();
  });
  return registry;
}
