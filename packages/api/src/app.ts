import Fastify, { type FastifyBaseLogger, type FastifyInstance } from "fastify";
import { serializerCompiler, validatorCompiler } from "fastify-type-provider-zod";
import type { ApiDeps } from "./deps.ts";
import { registerAdmin } from "./plugins/admin.ts";
import { registerAuth } from "./plugins/auth.ts";
import { registerDocs } from "./plugins/docs.ts";
import { registerProblemHandlers } from "./plugins/errors.ts";
import { registerHealth } from "./plugins/health.ts";
import { registerMetrics } from "./plugins/metrics.ts";
import { registerRateLimit } from "./plugins/rate-limit.ts";
import { registerWeb } from "./plugins/web.ts";
import { batchRoutes } from "./routes/batches.ts";
import { blobRoutes } from "./routes/blobs.ts";
import { eventRoutes } from "./routes/events.ts";
import { modelRoutes } from "./routes/models.ts";
import { packageRoutes } from "./routes/packages.ts";
import { EventHub } from "./events/event-hub.ts";
import { BatchService } from "./services/batch.service.ts";
import { PackageService } from "./services/package.service.ts";

export type { ApiDeps } from "./deps.ts";

/** The HTTP API over the given clients; listening and closing the clients is the caller's. */
export async function buildApp(deps: ApiDeps): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    // JSON bodies; blob and model uploads stream and have their own limit.
    bodyLimit: deps.config.MAX_JSON_BODY_BYTES,
  });
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  app.decorateRequest("tenant", "");

  registerProblemHandlers(app);
  // Every log line about a batch or a package carries its id, so logs can be filtered by it.
  app.addHook("preHandler", async (request) => {
    const id = (request.params as { id?: string } | undefined)?.id;
    if (!id) return;
    const field = request.routeOptions.url?.startsWith("/v1/packages") ? "packageId" : "batchId";
    request.log = request.log.child({ [field]: id });
  });
  await registerDocs(app);
  registerMetrics(app, deps);
  registerHealth(app, deps);
  await registerWeb(app);
  await registerAdmin(app, deps);

  const batches = new BatchService(deps);
  const packages = new PackageService(deps, batches);
  const hub = new EventHub(deps.ledger.events, deps.logger);
  app.addHook("onClose", async () => hub.close());
  const heartbeatMs = deps.options?.sseHeartbeatMs ?? 15_000;

  await app.register(
    async (v1) => {
      registerAuth(v1, deps.apiKeys);
      await registerRateLimit(v1, deps);
      await v1.register(blobRoutes, { deps });
      await v1.register(modelRoutes, { deps });
      await v1.register(batchRoutes, { batches });
      await v1.register(eventRoutes, { batches, hub, heartbeatMs });
      await v1.register(packageRoutes, { packages });
    },
    { prefix: "/v1" },
  );
  return app;
}
