import { runPeriodically } from "@mediaq/shared";
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from "fastify";
import { serializerCompiler, validatorCompiler } from "fastify-type-provider-zod";
import type { ApiDeps } from "./deps.ts";
import { registerAdmin } from "./plugins/admin.ts";
import { registerAuth } from "./plugins/auth.ts";
import { registerDocs } from "./plugins/docs.ts";
import { frameworkErrors, registerProblemHandlers } from "./plugins/errors.ts";
import { registerHealth } from "./plugins/health.ts";
import { registerMetrics } from "./plugins/metrics.ts";
import { registerRateLimits } from "./plugins/rate-limit.ts";
import { registerSecurityHeaders, registerWeb } from "./plugins/web.ts";
import { batchRoutes } from "./routes/batches.ts";
import { blobRoutes } from "./routes/blobs.ts";
import { eventRoutes } from "./routes/events.ts";
import { ItemMedia, itemMediaRoutes } from "./routes/item-media.ts";
import { modelRoutes } from "./routes/models.ts";
import { packageRoutes } from "./routes/packages.ts";
import { webhookRoutes } from "./routes/webhooks.ts";
import { EventHub } from "./events/event-hub.ts";
import { BatchService } from "./services/batch.service.ts";
import { BlobService } from "./services/blob.service.ts";
import { ModelService } from "./services/model.service.ts";
import { PackageService } from "./services/package.service.ts";
import { WebhookService } from "./services/webhook.service.ts";

export type { ApiDeps } from "./deps.ts";

/** The HTTP API over the given clients; listening and closing the clients is the caller's. */
export async function buildApp(deps: ApiDeps): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    // JSON bodies; blob and model uploads stream and have their own limit.
    bodyLimit: deps.config.MAX_JSON_BODY_BYTES,
    trustProxy: deps.config.TRUST_PROXY,
    // Ids are checked by each route's schema (400 naming the field), not cut at the router's
    // default 100 characters (an upload id is longer); Node bounds the whole head at 16 KiB.
    routerOptions: { maxParamLength: 16 * 1024 },
    frameworkErrors,
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
  await registerSecurityHeaders(app, deps.config);
  const limits = await registerRateLimits(app, deps);
  await registerDocs(app);
  app.decorate("metrics", registerMetrics(app, deps, limits));
  registerHealth(app, deps);
  await registerWeb(app);
  await registerAdmin(app, deps, limits);

  const blobs = new BlobService(deps);
  const models = new ModelService(deps, blobs);
  const webhooks = new WebhookService(deps);
  const batches = new BatchService(deps, webhooks);
  const media = new ItemMedia(deps);
  const packages = new PackageService(deps, batches);
  const hub = new EventHub(deps.ledger.events, deps.logger);
  app.addHook("onClose", async () => hub.close());
  // Work a writer left in the outbox when it died is queued on a quiet system too, not only
  // by the next submit (docs/architecture.md#queue-writes-after-ledger-writes).
  const outboxRepair = runPeriodically(
    () => batches.repairOutbox(),
    deps.config.OUTBOX_GRACE_SECONDS / 2,
    (err) => deps.logger.error({ err }, "outbox repair failed"),
  );
  app.addHook("onClose", async () => outboxRepair.stop());
  const heartbeatMs = deps.options?.sseHeartbeatMs ?? 15_000;

  await app.register(
    async (v1) => {
      registerAuth(v1, deps.keys, limits);
      await v1.register(blobRoutes, { blobs });
      await v1.register(modelRoutes, { models, blobs });
      await v1.register(batchRoutes, { batches, media });
      await v1.register(itemMediaRoutes, { batches, media });
      await v1.register(eventRoutes, {
        batches,
        hub,
        heartbeatMs,
        maxStreamsPerTenant: deps.config.MAX_EVENT_STREAMS_PER_TENANT,
      });
      await v1.register(packageRoutes, { packages });
      await v1.register(webhookRoutes, { webhooks });
    },
    { prefix: "/v1" },
  );
  return app;
}
