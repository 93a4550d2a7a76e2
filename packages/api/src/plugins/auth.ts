import type { IncomingHttpHeaders } from "node:http";
import type { FastifyInstance } from "fastify";
import type { KeyRing } from "../api-keys.ts";
import { HttpProblem } from "../problem.ts";
import { sendProblem } from "./errors.ts";
import type { Limiters } from "./rate-limit.ts";

const HOW =
  'Pass an API key as the header "Authorization: Bearer <key>" (keys are set with API_KEYS=tenant:key or tenant:sha256:<digest>).';

/** The token of an "Authorization: Bearer <token>" header, or undefined. */
export function bearerToken(header: string | undefined): string | undefined {
  return header ? /^Bearer\s+(\S+)\s*$/i.exec(header)?.[1] : undefined;
}

/** Does the request carry a body (still unread in onRequest)? */
export const hasBody = (headers: IncomingHttpHeaders): boolean =>
  Number(headers["content-length"] ?? 0) > 0 || headers["transfer-encoding"] !== undefined;

/**
 * Bearer key -> tenant for every route of the scope (the /v1 routes), all in onRequest, so a
 * request is refused before its body is read: a failed key counts against its address
 * (429 once spent), a known key against its tenant's budget. Logs name the tenant, never
 * the key.
 */
export function registerAuth(scope: FastifyInstance, keys: KeyRing, limits: Limiters): void {
  scope.addHook("onRequest", async (request, reply) => {
    const header = request.headers.authorization;
    const token = bearerToken(header);
    const tenant = token === undefined ? undefined : keys.tenantOf(token);
    if (!tenant) {
      // The unread body would otherwise have to be drained from a connection kept alive.
      if (hasBody(request.headers)) reply.header("connection", "close");
      if (await limits.authFailures(request, reply)) return reply;
      reply.header("www-authenticate", 'Bearer realm="mediaq"');
      const problem = new HttpProblem(
        401,
        "unauthorized",
        "Unauthorized",
        header ? `The API key is not valid. ${HOW}` : `Missing API key. ${HOW}`,
      );
      return sendProblem(reply, problem.toBody(request.url));
    }
    request.tenant = tenant;
    // reply.log writes the "request completed" line; both carry the tenant.
    request.log = reply.log = request.log.child({ tenant });
    if (await limits.perTenant(request, reply)) return reply;
  });
}
