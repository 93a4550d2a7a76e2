import swagger from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import type { FastifyInstance } from "fastify";
import { jsonSchemaTransform } from "fastify-type-provider-zod";

/**
 * OpenAPI generated from the zod route schemas; the UI at /docs, the document at /docs/json.
 * Public on purpose: it describes the API, holds no data, and every route it lists still
 * needs a key. The UI ships inline scripts, so it gets its own policy (swagger-ui's, with
 * the hashes of exactly those scripts) instead of the page's strict one.
 */
export async function registerDocs(app: FastifyInstance): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: "3.1.0",
      info: { title: "mediaq API", version: "1", description: "Batch lip-sync jobs over a queue; see DESIGN.md." },
      components: { securitySchemes: { bearer: { type: "http", scheme: "bearer" } } },
      security: [{ bearer: [] }],
    },
    transform: jsonSchemaTransform,
  });
  await app.register(swaggerUi, {
    routePrefix: "/docs",
    staticCSP: true,
    // No calls to validator.swagger.io from an operator's browser.
    uiConfig: { validatorUrl: null },
  });
}
