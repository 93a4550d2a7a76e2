import type { FastifyInstance } from "fastify";
import { HttpProblem } from "../problem.ts";

const HOW = 'Pass an API key as the header "Authorization: Bearer <key>" (keys are set with API_KEYS=tenant:key).';

/** Bearer key -> tenant, for every route of the scope it is added to (the /v1 routes). */
export function registerAuth(scope: FastifyInstance, apiKeys: Map<string, string>): void {
  scope.addHook("onRequest", async (request, reply) => {
    const header = request.headers.authorization;
    const match = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
    const tenant = match?.[1] ? apiKeys.get(match[1]) : undefined;
    if (!tenant) {
      reply.header("www-authenticate", 'Bearer realm="mediaq"');
      throw new HttpProblem(
        401,
        "unauthorized",
        "Unauthorized",
        header ? `The API key is not valid. ${HOW}` : `Missing API key. ${HOW}`,
      );
    }
    request.tenant = tenant;
  });
}
