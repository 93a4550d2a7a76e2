/**
 * The frame-ops thread: runs the crop and paste graphs (frame-ops.ts) on frames the main
 * thread decodes into shared memory. Its small heap makes the garbage collections that
 * onnxruntime-node's per-call output buffers cause cheap; on the main thread, beside the
 * queue and store clients, each one cost tens of milliseconds (docs/architecture.md#frame-path).
 */
import { parentPort } from "node:worker_threads";
import { SwapOps } from "../adapters/inswapper/warp-ops.ts";
import { serveRequests } from "../thread-rpc.ts";
import { FrameOps } from "./frame-ops.ts";
import type { FrameOpsRequest } from "./frame-ops-client.ts";

const loaded = FrameOps.load();
const swapOps = new SwapOps();

serveRequests(parentPort, "frames/frame-ops-thread.ts", async (msg: FrameOpsRequest & { id: number }) => {
  if (msg.type === "alignedCrop") await swapOps.cropAligned(msg.aligned, msg.faces);
  else if (msg.type === "alignedPaste") await swapOps.pasteAligned(msg.aligned, msg.faces, msg.mask);
  else if (msg.type === "crop") await (await loaded).cropAll(msg.boxed, msg.face);
  else await (await loaded).pasteAll(msg.boxed, msg.prediction);
  return {};
});
