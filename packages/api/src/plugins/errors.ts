import { isRedisUnavailable } from "@mediaq/shared";
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { hasZodFastifySchemaValidationErrors } from "fastify-type-provider-zod";
import { HttpProblem, PROBLEM_CONTENT_TYPE, type ProblemBody, problemType } from "../problem.ts";

/** "/items/0/inputs/video" in "body" -> "body.items[0].inputs.video". */
export function fieldName(context: string | undefined, instancePath: string): string {
  const parts = instancePath.split("/").filter(Boolean);
  let out = context ?? "request";
  for (const p of parts) out += /^\d+$/.test(p) ? `[${p}]` : `.${p}`;
  return out;
}

export function sendProblem(reply: FastifyReply, body: ProblemBody): FastifyReply {
  return reply.code(body.status).type(PROBLEM_CONTENT_TYPE).send(body);
}

/** Turns any error into RFC 9457 problem+json; validation errors name the fields at fault. */
export function toProblem(err: FastifyError | Error, request: FastifyRequest): ProblemBody {
  const instance = request.url;
  if (err instanceof HttpProblem) return err.toBody(instance);
  if (hasZodFastifySchemaValidationErrors(err)) {
    const errors = err.validation.map((v) => ({
      field: fieldName(err.validationContext, v.instancePath),
      message: v.message,
    }));
    return {
      type: problemType("validation"),
      title: "Invalid request",
      status: 400,
      detail: errors.map((e) => `${e.field}: ${e.message}`).join("; "),
      instance,
      errors,
    };
  }
  // The API's Redis connection fails fast while Redis restarts or fails over
  // (docs/architecture.md#redis-failover): a retryable 503, not a 500.
  if (isRedisUnavailable(err))
    return {
      type: problemType("redis-unavailable"),
      title: "Service unavailable",
      status: 503,
      detail: "Redis is restarting or failing over; try again in a few seconds.",
      instance,
    };
  const status = (err as FastifyError).statusCode;
  if (status && status >= 400 && status < 500) {
    // Fastify's own client errors: malformed JSON, body too large, unsupported media type...
    return {
      type: problemType((err as FastifyError).code?.toLowerCase() ?? "client-error"),
      title: "Bad request",
      status,
      detail: err.message,
      instance,
    };
  }
  return {
    type: problemType("internal"),
    title: "Internal server error",
    status: status && status >= 500 ? status : 500,
    detail: "The server failed to handle this request; the error is in its log.",
    instance,
  };
}

/**
 * Errors Fastify raises before routing (a malformed URL such as "%ZZ", a bad Content-Type),
 * which bypass the error handler: problem+json too (passed as the frameworkErrors option).
 */
export function frameworkErrors(err: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  sendProblem(reply, toProblem(err, request));
}

export function registerProblemHandlers(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError, request, reply) => {
    const body = toProblem(err, request);
    if (body.status === 503) {
      request.log.warn({ err: err.message }, "Redis unavailable");
      reply.header("retry-after", "2");
    } else if (body.status >= 500) request.log.error({ err }, "request failed");
    else request.log.debug({ err: err.message }, "client error");
    return sendProblem(reply, body);
  });
  app.setNotFoundHandler((request, reply) =>
    sendProblem(reply, {
      type: problemType("no-route"),
      title: "Not found",
      status: 404,
      detail: `No route ${request.method} ${request.url.split("?")[0]}; see /docs for the API.`,
      instance: request.url,
    }),
  );
}
