import { batchEventSchema } from "@mediaq/shared";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import type { EventHub } from "../events/event-hub.ts";
import { badRequest } from "../problem.ts";
import { StreamSlots } from "../stream-slots.ts";
import type { BatchService } from "../services/batch.service.ts";

const STREAM_ID = /^\d+(-\d+)?$/;
const MAX_BUFFERED_BYTES = 1024 ** 2;

/**
 * Server-Sent Events from a batch's Redis stream. The stream id is the SSE id, so a
 * client that reconnects with Last-Event-ID (or ?lastEventId=) misses nothing, on any
 * API replica. Clients share the process's one event reader (EventHub).
 */
export const eventRoutes: FastifyPluginAsyncZod<{
  batches: BatchService;
  hub: EventHub;
  heartbeatMs: number;
  maxStreamsPerTenant: number;
}> = async (app, { batches, hub, heartbeatMs, maxStreamsPerTenant }) => {
  const open = new Set<() => void>();
  const slots = new StreamSlots(maxStreamsPerTenant);
  // Open streams would hold the server's close forever; end them first.
  app.addHook("preClose", async () => {
    for (const close of [...open]) close();
  });

  app.get(
    "/batches/:id/events",
    {
      schema: {
        operationId: "streamBatchEvents",
        tags: ["batches"],
        summary: "Progress events (text/event-stream); resume with Last-Event-ID",
        problems: [404],
        params: z.object({ id: z.string().min(1).max(200) }),
        querystring: z.object({ lastEventId: z.string().optional() }),
        headers: z.object({ "last-event-id": z.string().optional() }),
        produces: ["text/event-stream"],
        response: {
          200: batchEventSchema.describe(
            "Server-Sent Events: each has an id (send it back as Last-Event-ID) and one batch event as its JSON data",
          ),
        },
      },
    },
    async (request, reply) => {
      const batch = await batches.own(request.tenant, request.params.id);
      const resumeFrom = request.headers["last-event-id"] ?? request.query.lastEventId;
      if (resumeFrom !== undefined && !STREAM_ID.test(resumeFrom))
        throw badRequest("bad-event-id", `Last-Event-ID "${resumeFrom}" is not an event id this API sent.`);

      const release = slots.take(request.tenant);
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, {
        "content-type": "text/event-stream; charset=utf-8",
        "cache-control": "no-cache, no-transform",
        connection: "keep-alive",
        "x-accel-buffering": "no",
      });
      res.write("retry: 3000\n\n");

      let lastWrite = Date.now();
      // The shared reader never waits for one client: a client that stops reading is cut
      // off once this much is buffered, and resumes with Last-Event-ID.
      const write = (text: string) => {
        lastWrite = Date.now();
        res.write(text);
        if (res.writableLength > MAX_BUFFERED_BYTES) close();
      };
      let unsubscribe = () => {};
      let live = true;
      const heartbeat = setInterval(() => {
        if (Date.now() - lastWrite >= heartbeatMs) write(": heartbeat\n\n");
      }, heartbeatMs);
      const close = () => {
        if (!live) return;
        live = false;
        open.delete(close);
        release();
        clearInterval(heartbeat);
        unsubscribe();
        res.end();
      };
      open.add(close);
      res.on("close", close);

      try {
        let from = resumeFrom;
        if (from === undefined) {
          // A new client starts after the newest event, with the current counts as a
          // snapshot; read in that order so nothing falls between the two.
          from = await hub.newestId(batch.id);
          const s = await batches.summary(batch);
          write(`data: ${JSON.stringify({ type: "snapshot", total: s.total, counts: s.counts, done: s.done })}\n\n`);
        }
        const stop = await hub.subscribe(batch.id, from, (events) => {
          for (const { id, event } of events) write(`id: ${id}\ndata: ${JSON.stringify(event)}\n\n`);
        });
        if (live) unsubscribe = stop;
        else stop();
      } catch (err) {
        if (live) request.log.warn({ err }, "event stream failed");
        close();
      }
      return reply;
    },
  );
};
