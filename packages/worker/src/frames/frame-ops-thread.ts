/**
 * The frame-ops thread: runs the crop and paste graphs (frame-ops.ts) on frames the main
 * thread decodes into shared memory. Its small heap makes the garbage collections that
 * onnxruntime-node's per-call output buffers cause cheap; on the main thread, beside the
 * queue and store clients, each one cost tens of milliseconds (docs/architecture.md#frame-path).
 */
import { parentPort } from "node:worker_threads";
import { FrameOps } from "./frame-ops.ts";
import type { FrameOpsReply, FrameOpsRequest } from "./frame-ops-client.ts";

const port = parentPort;
if (!port) throw new Error("frames/frame-ops-thread.ts runs as a worker thread (see frames/frame-ops-client.ts)");
const loaded = FrameOps.load();

port.on("message", async (msg: FrameOpsRequest) => {
  try {
    const ops = await loaded;
    if (msg.type === "crop") await ops.cropAll(msg.boxed, msg.face);
    else await ops.pasteAll(msg.boxed, msg.prediction);
    port.postMessage({ id: msg.id, ok: true } satisfies FrameOpsReply);
  } catch (err) {
    port.postMessage({ id: msg.id, ok: false, message: (err as Error).message } satisfies FrameOpsReply);
  }
});
