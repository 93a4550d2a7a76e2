import { HeadBucketCommand } from "@aws-sdk/client-s3";
import type { FastifyInstance } from "fastify";
import type { ApiDeps } from "../deps.ts";
import { HttpProblem } from "../problem.ts";

/** /healthz: the process answers. /readyz: Redis and the bucket answer too. */
export function registerHealth(app: FastifyInstance, deps: ApiDeps): void {
  app.get("/healthz", { schema: { hide: true } }, async () => ({ status: "ok" }));
  app.get("/readyz", { schema: { hide: true } }, async () => {
    const checks = await Promise.allSettled([
      deps.ledger.ping(),
      deps.s3.send(new HeadBucketCommand({ Bucket: deps.config.S3_BUCKET })),
    ]);
    const failed = [
      checks[0].status === "rejected" ? `redis: ${String(checks[0].reason?.message ?? checks[0].reason)}` : undefined,
      checks[1].status === "rejected"
        ? `s3 bucket ${deps.config.S3_BUCKET}: ${String(checks[1].reason?.name ?? checks[1].reason)}`
        : undefined,
    ].filter((f): f is string => f !== undefined);
    if (failed.length > 0) throw new HttpProblem(503, "not-ready", "Not ready", failed.join("; "));
    return { status: "ready", redis: "ok", s3: "ok" };
  });
}
