import { HeadBucketCommand } from "@aws-sdk/client-s3";
import type { FastifyInstance } from "fastify";
import type { ApiDeps } from "../deps.ts";
import { HttpProblem } from "../problem.ts";

/** How long one readiness probe answers for: a flood of /readyz costs one probe per period. */
export const READY_PROBE_TTL_MS = 5000;

/**
 * /healthz: the process answers. /readyz: Redis and the bucket answer too. Both are public
 * (load balancers call them without a key), so /readyz says only which dependency failed;
 * the bucket's name and the errors go to the log.
 */
export function registerHealth(app: FastifyInstance, deps: ApiDeps): void {
  let probe: { at: number; failed: Promise<string[]> } | undefined;
  const readiness = (): Promise<string[]> => {
    if (probe && Date.now() - probe.at < READY_PROBE_TTL_MS) return probe.failed;
    const failed = Promise.allSettled([
      deps.ledger.ping(),
      deps.s3.send(new HeadBucketCommand({ Bucket: deps.config.S3_BUCKET })),
    ]).then(([redis, s3]) => {
      if (redis.status === "rejected") app.log.warn({ err: redis.reason }, "readiness: redis failed");
      if (s3.status === "rejected") app.log.warn({ err: s3.reason }, "readiness: s3 bucket failed");
      return [redis.status === "rejected" ? "redis" : "", s3.status === "rejected" ? "storage" : ""].filter(Boolean);
    });
    probe = { at: Date.now(), failed };
    return failed;
  };

  app.get("/healthz", { schema: { hide: true } }, async () => ({ status: "ok" }));
  app.get("/readyz", { schema: { hide: true } }, async () => {
    // Not cached: a connection that is not ready is Redis restarting or failing over (a
    // Sentinel promotion), and the API's commands fail fast until it is back. Looked at again
    // after the probe: a ping that failed because the connection just dropped says so too.
    const failingOver = () => {
      const status = deps.ledger.connection().status;
      if (status !== "ready")
        throw new HttpProblem(
          503,
          "not-ready",
          "Not ready",
          `Redis is failing over or restarting (connection ${status}); requests fail until it is back.`,
        );
    };
    failingOver();
    const failed = await readiness();
    if (failed.includes("redis")) failingOver();
    if (failed.length > 0)
      throw new HttpProblem(
        503,
        "not-ready",
        "Not ready",
        `Not reachable: ${failed.join(", ")} (details in the API log).`,
      );
    return { status: "ready", redis: "ok", s3: "ok" };
  });
}
