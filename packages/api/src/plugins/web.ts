import fs from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import helmet from "@fastify/helmet";
import fastifyStatic from "@fastify/static";
import type { FastifyInstance } from "fastify";

const webDir = fileURLToPath(new URL("../../web/", import.meta.url));
// The page parses Server-Sent Events with the same library the CLI uses (its ESM build).
const eventsourceParser = createRequire(import.meta.url)
  .resolve("eventsource-parser")
  .replace(/index\.cjs$/, "index.js");

/**
 * The policy of every answer, the web page's included: scripts, styles and requests only
 * from this origin, no inline script or style, no plugins, never framed. /docs and /admin
 * replace it with policies of their own (docs.ts, admin.ts).
 */
export const STRICT_CSP = {
  defaultSrc: ["'self'"],
  scriptSrc: ["'self'"],
  styleSrc: ["'self'"],
  imgSrc: ["'self'", "data:"],
  connectSrc: ["'self'"],
  fontSrc: ["'self'"],
  objectSrc: ["'none'"],
  baseUri: ["'none'"],
  formAction: ["'self'"],
  frameAncestors: ["'none'"],
};

/** Security headers (helmet) on every answer. */
export async function registerSecurityHeaders(app: FastifyInstance): Promise<void> {
  await app.register(helmet, {
    global: true,
    contentSecurityPolicy: { useDefaults: false, directives: STRICT_CSP },
    referrerPolicy: { policy: "no-referrer" },
    frameguard: { action: "deny" },
  });
}

/** The web page: `/` and its assets under `/ui/`. It signs in with an API key like any client. */
export async function registerWeb(app: FastifyInstance): Promise<void> {
  await app.register(fastifyStatic, { root: webDir, prefix: "/ui/", index: false });
  app.get("/", { schema: { hide: true } }, (_req, reply) => reply.sendFile("index.html"));
  app.get("/ui/vendor/eventsource-parser.js", { schema: { hide: true } }, (_req, reply) =>
    reply.type("text/javascript; charset=utf-8").send(fs.createReadStream(eventsourceParser)),
  );
}
