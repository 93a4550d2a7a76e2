import { redisKeys } from "@mediaq/shared";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import { batchSummary, ownBatch } from "../batch-views.ts";
import type { ApiDeps } from "../deps.ts";
import { badRequest } from "../problem.ts";
import { StreamSlots } from "../stream-slots.ts";

const STREAM_ID = /^\d+(-\d+)?$/;

/**
 * Server-Sent Events from a batch's Redis stream. The stream id is the SSE id, so a
 * client that reconnects with Last-Event-ID (or ?lastEventId=) misses nothing, on any
 * API replica. Each client reads on its own connection: XREAD BLOCK holds it.
 */
export const eventRoutes: FastifyPluginAsyncZod<{ deps: ApiDeps }> = async (app, { deps }) => {
  const heartbeatMs = deps.options?.sseHeartbeatMs ?? 15_000;
  const open = new Set<() => void>();
  const slots = new StreamSlots(deps.config.MAX_EVENT_STREAMS_PER_TENANT);
  // Open streams would hold the server's close forever; end them first.
  app.addHook("preClose", async () => {
    for (const close of [...open]) close();
  });

  app.get(
    "/batches/:id/events",
    {
      schema: {
        summary: "Progress events (text/event-stream); resume with Last-Event-ID",
        params: z.object({ id: z.string().min(1).max(200) }),
        querystring: z.object({ lastEventId: z.string().optional() }),
        headers: z.object({ "last-event-id": z.string().optional() }),
      },
    },
    async (request, reply) => {
      const batch = await ownBatch(deps, request.tenant, request.params.id);
      const resumeFrom = request.headers["last-event-id"] ?? request.query.lastEventId;
      if (resumeFrom !== undefined && !STREAM_ID.test(resumeFrom))
        throw badRequest("bad-event-id", `Last-Event-ID "${resumeFrom}" is not an event id this API sent.`);

      let lastId = resumeFrom;
      let snapshot: string | undefined;
      if (lastId === undefined) {
        // A new client starts after the newest event, with the current counts as a
        // snapshot; read in that order so nothing falls between the two.
        const newest = await deps.redis.xrevrange(redisKeys.batchEvents(batch.id), "+", "-", "COUNT", 1);
        lastId = newest[0]?.[0] ?? "0";
        const s = await batchSummary(deps, batch);
        snapshot = JSON.stringify({ type: "snapshot", total: s.total, counts: s.counts, done: s.done });
      }

      const release = slots.take(request.tenant);
      const conn = deps.redis.duplicate();
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, {
        "content-type": "text/event-stream; charset=utf-8",
        "cache-control": "no-cache, no-transform",
        connection: "keep-alive",
        "x-accel-buffering": "no",
      });
      res.write("retry: 3000\n\n");
      if (snapshot) res.write(`data: ${snapshot}\n\n`);

      let live = true;
      const close = () => {
        if (!live) return;
        live = false;
        open.delete(close);
        release();
        conn.disconnect(); // also ends a pending XREAD BLOCK
        res.end();
      };
      open.add(close);
      res.on("close", close);

      const write = async (text: string) => {
        if (!res.write(text)) await new Promise((resolve) => res.once("drain", resolve));
      };
      void (async () => {
        while (live) {
          try {
            const events = await deps.ledger.readEvents(batch.id, lastId as string, heartbeatMs, conn);
            if (!live) break;
            if (events.length === 0) await write(": heartbeat\n\n");
            for (const { id, event } of events) {
              await write(`id: ${id}\ndata: ${JSON.stringify(event)}\n\n`);
              lastId = id;
            }
          } catch (err) {
            if (live) request.log.warn({ err }, "event stream failed");
            close();
          }
        }
      })();
      return reply;
    },
  );
};
