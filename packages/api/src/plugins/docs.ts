import swagger from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import type { FastifyInstance } from "fastify";
import { jsonSchemaTransform } from "fastify-type-provider-zod";
import { PROBLEM_CONTENT_TYPE } from "../problem.ts";
import { webhookDocs } from "../routes/webhooks.ts";

/** 4xx answers a route documents besides the ones every /v1 route may give (400, 401, 429). */
export type ProblemStatus = 403 | 404 | 409 | 413 | 415 | 422;

declare module "fastify" {
  interface FastifySchema {
    /** The route's own 4xx answers, documented as problem+json (docs/architecture.md#api-description). */
    problems?: readonly ProblemStatus[];
    /** The route streams its body as raw bytes (no body schema): documented as application/octet-stream. */
    rawBody?: string;
  }
}

const PROBLEM_TEXT: Record<400 | 401 | 429 | ProblemStatus, string> = {
  400: "Invalid request: the fields at fault are named in detail and errors",
  401: "Missing or unknown API key",
  403: "Forbidden",
  404: "Not found for this API key (someone else's looks the same as absent)",
  409: "Conflict with the resource's state",
  413: "Body too large",
  415: "Unsupported media type",
  422: "Same Idempotency-Key, another request",
  429: "Rate limited or out of slots; retry-after says when to retry",
};

/** Every error answer is RFC 9457 problem details (packages/api/src/problem.ts). */
const problemSchema = {
  type: "object",
  description: "RFC 9457 problem details; type is a stable urn:mediaq:problem:<slug> to branch on",
  properties: {
    type: { type: "string" },
    title: { type: "string" },
    status: { type: "integer" },
    detail: { type: "string" },
    instance: { type: "string" },
  },
  required: ["type", "title", "status", "detail"],
  additionalProperties: true,
};

const TAGS = [
  { name: "blobs", description: "Input files, stored once by SHA-256 and granted per API key" },
  { name: "models", description: "ONNX models behind tags" },
  { name: "batches", description: "Batches of items: submit, follow, retry, cancel" },
  { name: "packages", description: "ZIP parts of a batch's outputs, with presigned links" },
  { name: "webhooks", description: "Endpoints called when items, batches and packages finish" },
];

type Transformed = ReturnType<typeof jsonSchemaTransform>;

/** The zod route schemas as OpenAPI, with every 4xx answer as a reference to the Problem schema. */
function transform(input: Parameters<typeof jsonSchemaTransform>[0]): Transformed {
  const out = jsonSchemaTransform(input);
  const {
    problems = [],
    rawBody,
    ...schema
  } = out.schema as {
    problems?: ProblemStatus[];
    rawBody?: string;
    response?: object;
  };
  if (!input.url.startsWith("/v1/")) return { ...out, schema };
  const body = rawBody
    ? { consumes: ["application/octet-stream"], body: { type: "string", format: "binary", description: rawBody } }
    : {};
  const answers = Object.fromEntries(
    ([400, 401, ...problems, 429] as const).map((status) => [
      status,
      {
        description: PROBLEM_TEXT[status],
        content: { [PROBLEM_CONTENT_TYPE]: { schema: { $ref: "#/components/schemas/Problem" } } },
      },
    ]),
  );
  return { ...out, schema: { ...schema, ...body, response: { ...schema.response, ...answers } } };
}

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
        license: { name: "Proprietary: no licence is granted", identifier: "LicenseRef-mediaq-proprietary" },
      },
      // Relative: the document describes whichever origin serves it.
      servers: [{ url: "/", description: "The API that serves this document" }],
      tags: TAGS,
      components: {
        securitySchemes: { bearer: { type: "http", scheme: "bearer" } },
        schemas: { Problem: problemSchema as never },
      },
      security: [{ bearer: [] }],
      webhooks: webhookDocs() as never,
    },
    transform,
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
