import rateLimit from "@fastify/rate-limit";
import { redisKeys } from "@mediaq/shared";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { ApiDeps } from "../deps.ts";
import { HttpProblem } from "../problem.ts";
import { sendProblem } from "./errors.ts";

/**
 * Counts one request against a budget and sends 429 problem+json when it is spent.
 * Returns true when the request was refused (the reply is sent).
 */
export type Limiter = (request: FastifyRequest, reply: FastifyReply) => Promise<boolean>;

export interface Limiters {
  /** Failed authentications per client address (on /v1 and /admin), counted before any body is read. */
  authFailures: Limiter;
  /** Requests per tenant on /v1 (RATE_LIMIT_PER_MINUTE; 0 = none). */
  perTenant: Limiter;
  /** Every /admin request per client address. */
  admin: Limiter;
}

/**
 * @fastify/rate-limit keeps the counters in Redis, so every API replica shares each budget.
 * Its limiters are called from onRequest hooks (auth.ts, admin.ts) rather than attached to
 * routes: they then run before the body is read, and a failed key is counted by address
 * because no tenant is known. The reply is sent, not thrown, because bull-board installs its
 * own error handler on /admin.
 */
export async function registerRateLimits(app: FastifyInstance, deps: ApiDeps): Promise<Limiters> {
  const { config } = deps;
  await app.register(rateLimit, {
    global: false,
    redis: deps.ledger.connection(),
    nameSpace: redisKeys.rateLimitPrefix,
  });
  const limiter = (name: string, max: number, key: (r: FastifyRequest) => string, what: string): Limiter => {
    if (max === 0) return async () => false;
    const check = app.createRateLimit({ max, timeWindow: 60_000, keyGenerator: (r) => `${name}:${key(r)}` });
    return async (request, reply) => {
      const result = await check(request);
      if (result.isAllowed || !result.isExceeded) return false;
      reply.header("retry-after", String(result.ttlInSeconds));
      sendProblem(
        reply,
        new HttpProblem(
          429,
          "rate-limited",
          "Too Many Requests",
          `${what.replace("{max}", String(max))}; retry in ${result.ttlInSeconds} s.`,
        ).toBody(request.url),
      );
      return true;
    };
  };
  return {
    authFailures: limiter(
      "auth",
      config.AUTH_FAILURES_PER_MINUTE,
      (r) => r.ip,
      "This address failed to authenticate more than {max} times in a minute",
    ),
    perTenant: limiter(
      "tenant",
      config.RATE_LIMIT_PER_MINUTE,
      (r) => r.tenant,
      "This API key made more than {max} requests in a minute",
    ),
    admin: limiter(
      "admin",
      config.RATE_LIMIT_PER_MINUTE,
      (r) => r.ip,
      "This address made more than {max} /admin requests in a minute",
    ),
  };
}
