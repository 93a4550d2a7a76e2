import { createBullBoard } from "@bull-board/api";
import { BullMQAdapter } from "@bull-board/api/bullMQAdapter";
import { FastifyAdapter } from "@bull-board/fastify";
import { openAllQueues } from "@mediaq/shared";
import type { FastifyInstance } from "fastify";
import { sameSecret } from "../api-keys.ts";
import type { ApiDeps } from "../deps.ts";
import { HttpProblem } from "../problem.ts";
import { hasBody } from "./auth.ts";
import { sendProblem } from "./errors.ts";
import type { Limiters } from "./rate-limit.ts";

/** bull-board's page uses inline styles and Google fonts; scripts stay same-origin only. */
const ADMIN_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline' https://fonts.googleapis.com",
  "font-src 'self' https://fonts.gstatic.com",
  "img-src 'self' data:",
  "object-src 'none'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join("; ");

export const ADMIN_PATH = "/admin/queues";

/**
 * bull-board over every queue of the registry at /admin/queues, for operators holding ADMIN_KEY: as a
 * Bearer token, or as the password of HTTP Basic auth so a browser can open it.
 * Without ADMIN_KEY the dashboard is off (404). Every request counts against its address's
 * budget, and a failed key also against the failed-authentication budget, before any body.
 */
export async function registerAdmin(app: FastifyInstance, deps: ApiDeps, limits: Limiters): Promise<void> {
  const adminKey = deps.config.ADMIN_KEY;
  if (!adminKey) return;
  const serverAdapter = new FastifyAdapter();
  serverAdapter.setBasePath(ADMIN_PATH);
  // Every queue of the registry (queues.ts), on the API's connection; closed with the app.
  const queues = openAllQueues(deps.ledger.connection(), deps.config);
  app.addHook("onClose", async () => {
    await Promise.all(queues.map((q) => q.close()));
  });
  createBullBoard({ queues: queues.map((q) => new BullMQAdapter(q)), serverAdapter });
  await app.register(
    async (admin) => {
      admin.addHook("onRequest", async (request, reply) => {
        reply.header("content-security-policy", ADMIN_CSP);
        if (await limits.admin(request, reply)) return reply;
        const header = request.headers.authorization ?? "";
        const [scheme, value = ""] = header.split(" ");
        const secret =
          scheme === "Bearer"
            ? value
            : scheme === "Basic"
              ? Buffer.from(value, "base64").toString().split(":").slice(1).join(":")
              : "";
        if (!sameSecret(secret, adminKey)) {
          if (hasBody(request.headers)) reply.header("connection", "close");
          if (await limits.authFailures(request, reply)) return reply;
          // Sent here, not thrown: bull-board installs its own error handler in this scope.
          const problem = new HttpProblem(
            401,
            "admin-unauthorized",
            "Admin key required",
            "Send the ADMIN_KEY as a Bearer token, or as the password of HTTP Basic auth.",
          );
          reply.header("www-authenticate", 'Basic realm="mediaq admin"');
          return sendProblem(reply, problem.toBody(request.url));
        }
      });
      await admin.register(serverAdapter.registerPlugin());
    },
    { prefix: ADMIN_PATH },
  );
}
