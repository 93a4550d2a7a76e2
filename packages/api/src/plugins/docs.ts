import swagger from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import type { FastifyInstance } from "fastify";
import { jsonSchemaTransform } from "fastify-type-provider-zod";
import { webhookDocs } from "../routes/webhooks.ts";

/**
 * OpenAPI generated from the zod route schemas; the UI at /docs, the document at /docs/json.
 * Public on purpose: it describes the API, holds no data, and every route it lists still
 * needs a key. The UI gets its own policy: scripts from this origin only, like the page,
 * but inline styles and data: images, which swagger-ui renders with.
 */
export async function registerDocs(app: FastifyInstance): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: "3.1.0",
      info: {
        title: "mediaq API",
        version: "1",
        description: "Batch lip-sync jobs over a queue; see docs/architecture.md in the repository.",
      },
      components: { securitySchemes: { bearer: { type: "http", scheme: "bearer" } } },
      security: [{ bearer: [] }],
      webhooks: webhookDocs() as never,
    },
    transform: jsonSchemaTransform,
  });
  await app.register(swaggerUi, {
    routePrefix: "/docs",
    staticCSP: {
      "default-src": "'self'",
      "script-src": "'self'",
      "style-src": "'self' 'unsafe-inline'",
      "img-src": "'self' data:",
      "font-src": "'self' data:",
      "connect-src": "'self'",
      "object-src": "'none'",
      "base-uri": "'none'",
      "form-action": "'self'",
      "frame-ancestors": "'none'",
    },
    // No calls to validator.swagger.io from an operator's browser.
    uiConfig: { validatorUrl: null },
  });
}
