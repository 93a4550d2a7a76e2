import rateLimit from "@fastify/rate-limit";
import { redisKeys } from "@mediaq/shared";
import type { FastifyInstance } from "fastify";
import type { ApiDeps } from "../deps.ts";
import { HttpProblem } from "../problem.ts";

/**
 * Requests per tenant per minute on the /v1 routes, counted in Redis so every API replica
 * shares one budget. RATE_LIMIT_PER_MINUTE=0 turns it off.
 */
export async function registerRateLimit(scope: FastifyInstance, deps: ApiDeps): Promise<void> {
  const max = deps.config.RATE_LIMIT_PER_MINUTE;
  if (max === 0) return;
  await scope.register(rateLimit, {
    max,
    timeWindow: 60_000,
    redis: deps.ledger.connection(),
    nameSpace: redisKeys.rateLimitPrefix,
    // After auth (an onRequest hook), so the tenant is known.
    hook: "preHandler",
    keyGenerator: (request) => request.tenant,
    errorResponseBuilder: (_request, context) =>
      new HttpProblem(
        429,
        "rate-limited",
        "Too Many Requests",
        `This API key made more than ${context.max} requests in a minute; retry in ${context.after}.`,
      ),
  });
}
