import fs from "node:fs";
import { createRequire, stripTypeScriptTypes } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import helmet from "@fastify/helmet";
import fastifyStatic from "@fastify/static";
import type { Config } from "@mediaq/shared";
import type { FastifyInstance } from "fastify";
import { z } from "zod";

const webDir = fileURLToPath(new URL("../../web/", import.meta.url));
const require = createRequire(import.meta.url);
/**
 * Libraries the page loads, each its own ESM browser build, served from here (no CDN): the
 * SSE parser the CLI uses, hash-wasm (streaming SHA-256) and the CLI's CSV parser.
 */
const VENDOR: Record<string, string> = {
  "eventsource-parser.js": require.resolve("eventsource-parser").replace(/index\.cjs$/, "index.js"),
  "hash-wasm.js": path.join(path.dirname(require.resolve("hash-wasm")), "index.esm.min.js"),
  "csv-parse.js": path.join(path.dirname(require.resolve("csv-parse/sync")), "..", "esm", "sync.js"),
};
/**
 * Shared modules the page imports as they are, types stripped: the submission rules and the
 * Idempotency-Key derivation are the CLI's own code, not a copy (docs/architecture.md#submitting).
 */
const sharedDir = path.dirname(require.resolve("@mediaq/shared"));
const SHARED = ["canonical-json.ts", "submission-plan.ts"] as const;

/** The S3 origins presigned URLs point at: the page PUTs uploads there and plays outputs from there. */
export function s3Origins(config: Pick<Config, "S3_ENDPOINT" | "S3_BUCKET" | "S3_REGION">): string[] {
  if (config.S3_ENDPOINT) return [new URL(config.S3_ENDPOINT).origin];
  return [
    `https://${config.S3_BUCKET}.s3.${config.S3_REGION}.amazonaws.com`,
    `https://s3.${config.S3_REGION}.amazonaws.com`,
  ];
}

/**
 * The policy of every answer, the web page's included: scripts and styles only from this
 * origin, no inline script or style, no eval (WebAssembly may compile, for hash-wasm), no
 * plugins, never framed; requests, images and media also to the S3 origin of presigned
 * links. /docs and /admin replace it with policies of their own (docs.ts, admin.ts).
 */
export function strictCsp(config: Pick<Config, "S3_ENDPOINT" | "S3_BUCKET" | "S3_REGION">) {
  const s3 = s3Origins(config);
  return {
    defaultSrc: ["'self'"],
    scriptSrc: ["'self'", "'wasm-unsafe-eval'"],
    styleSrc: ["'self'"],
    imgSrc: ["'self'", "data:", ...s3],
    mediaSrc: ["'self'", ...s3],
    connectSrc: ["'self'", ...s3],
    fontSrc: ["'self'"],
    objectSrc: ["'none'"],
    baseUri: ["'none'"],
    formAction: ["'self'"],
    frameAncestors: ["'none'"],
  };
}

/** Security headers (helmet) on every answer. */
export async function registerSecurityHeaders(app: FastifyInstance, config: Config): Promise<void> {
  await app.register(helmet, {
    global: true,
    contentSecurityPolicy: { useDefaults: false, directives: strictCsp(config) },
    referrerPolicy: { policy: "no-referrer" },
    frameguard: { action: "deny" },
  });
}

/** The web page: `/` and its assets under `/ui/`. It signs in with an API key like any client. */
export async function registerWeb(app: FastifyInstance): Promise<void> {
  await app.register(fastifyStatic, { root: webDir, prefix: "/ui/", index: false });
  app.get("/", { schema: { hide: true } }, (_req, reply) => reply.sendFile("index.html"));
  app.get(
    "/ui/vendor/:file",
    { schema: { hide: true, params: z.object({ file: z.enum(Object.keys(VENDOR) as [string, ...string[]]) }) } },
    (req, reply) =>
      reply
        .type("text/javascript; charset=utf-8")
        .send(fs.createReadStream(VENDOR[(req.params as { file: string }).file] as string)),
  );
  const shared = new Map<string, string>(
    SHARED.map((file) => [file, stripTypeScriptTypes(fs.readFileSync(path.join(sharedDir, file), "utf8"))]),
  );
  app.get("/ui/shared/:file", { schema: { hide: true, params: z.object({ file: z.enum(SHARED) }) } }, (req, reply) =>
    reply.type("text/javascript; charset=utf-8").send(shared.get((req.params as { file: string }).file)),
  );
}
