import type { FastifyInstance, FastifyReply, onRequestAsyncHookHandler } from "fastify";
import { blobTooLarge } from "../blob-store.ts";

/**
 * Makes the scope's request body the raw request stream, whatever its content type, so
 * uploads of any size are streamed and never buffered (Fastify's own body limit does
 * not apply; storeBlob enforces one while streaming).
 */
export function acceptRawBodies(scope: FastifyInstance): void {
  scope.removeAllContentTypeParsers();
  scope.addContentTypeParser("*", (_request, payload, done) => done(null, payload));
}

/**
 * Runs an upload handler; when it fails before reading the whole body, the rest of the
 * body is still on the socket, so the connection is closed instead of reused.
 */
export async function closeOnError<T>(reply: FastifyReply, upload: () => Promise<T>): Promise<T> {
  try {
    return await upload();
  } catch (err) {
    reply.header("connection", "close");
    throw err;
  }
}

/**
 * Refuses a body whose declared Content-Length exceeds `max` before any of it is read
 * (a chunked body is cut off by storeBlob's own limit while streaming).
 */
export function refuseLargerThan(max: number): onRequestAsyncHookHandler {
  return async (request, reply) => {
    if (Number(request.headers["content-length"] ?? 0) <= max) return;
    reply.header("connection", "close");
    throw blobTooLarge(max);
  };
}
