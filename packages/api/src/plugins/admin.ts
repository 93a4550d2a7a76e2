import { timingSafeEqual } from "node:crypto";
import { createBullBoard } from "@bull-board/api";
import { BullMQAdapter } from "@bull-board/api/bullMQAdapter";
import { FastifyAdapter } from "@bull-board/fastify";
import type { FastifyInstance } from "fastify";
import type { ApiDeps } from "../deps.ts";
import { HttpProblem, PROBLEM_CONTENT_TYPE } from "../problem.ts";

export const ADMIN_PATH = "/admin/queues";

function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * bull-board over the queues at /admin/queues, for operators holding ADMIN_KEY: as a
 * Bearer token, or as the password of HTTP Basic auth so a browser can open it.
 * Without ADMIN_KEY the dashboard is off (404).
 */
export async function registerAdmin(app: FastifyInstance, deps: ApiDeps): Promise<void> {
  const adminKey = deps.config.ADMIN_KEY;
  if (!adminKey) return;
  const serverAdapter = new FastifyAdapter();
  serverAdapter.setBasePath(ADMIN_PATH);
  createBullBoard({
    queues: [new BullMQAdapter(deps.inferenceQueue), new BullMQAdapter(deps.packageQueue)],
    serverAdapter,
  });
  await app.register(
    async (admin) => {
      admin.addHook("onRequest", async (request, reply) => {
        const header = request.headers.authorization ?? "";
        const [scheme, value = ""] = header.split(" ");
        const secret =
          scheme === "Bearer"
            ? value
            : scheme === "Basic"
              ? Buffer.from(value, "base64").toString().split(":").slice(1).join(":")
              : "";
        if (!sameSecret(secret, adminKey)) {
          // Sent here, not thrown: bull-board installs its own error handler in this scope.
          const problem = new HttpProblem(
            401,
            "admin-unauthorized",
            "Admin key required",
            "Send the ADMIN_KEY as a Bearer token, or as the password of HTTP Basic auth.",
          );
          return reply
            .code(401)
            .header("www-authenticate", 'Basic realm="mediaq admin"')
            .type(PROBLEM_CONTENT_TYPE)
            .send(problem.toBody(request.url));
        }
      });
      await admin.register(serverAdapter.registerPlugin());
    },
    { prefix: ADMIN_PATH },
  );
}
