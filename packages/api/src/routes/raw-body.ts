import type { FastifyInstance } from "fastify";

/**
 * Makes the scope's request body the raw request stream, whatever its content type, so
 * uploads of any size are streamed and never buffered (Fastify's own body limit does
 * not apply; storeBlob enforces one while streaming).
 */
export function acceptRawBodies(scope: FastifyInstance): void {
  scope.removeAllContentTypeParsers();
  scope.addContentTypeParser("*", (_request, payload, done) => done(null, payload));
}
