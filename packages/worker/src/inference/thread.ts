/**
 * The inference thread: owns the model's ONNX Runtime sessions and runs each batch of face
 * inputs through one (the frames stay on the main thread). onnxruntime-node's session.run is synchronous on
 * the calling thread, so running it here keeps the main thread's event loop free for
 * BullMQ's lock renewal, progress and metrics during minutes-long jobs.
 */
import { parentPort } from "node:worker_threads";
import type { InferenceSession } from "onnxruntime-node";
import { runWav2LipBatch } from "../adapters/wav2lip.ts";
import { createSession } from "./create-session.ts";
import type { LoadReply, RunReply, ThreadReply, ThreadRequest } from "./protocol.ts";

if (!parentPort) throw new Error("inference/thread.ts runs as a worker thread (see inference/client.ts)");
const port = parentPort;
const sessions = new Map<string, InferenceSession>();
// Once CUDA failed to load in this process it will not load later either: skip the attempt
// (and ONNX Runtime's own error print) for every further model.
let cudaUnavailable: string | undefined;

async function load(msg: Extract<ThreadRequest, { type: "load" }>): Promise<LoadReply> {
  let session = sessions.get(msg.model);
  let fellBackToCpu: string | undefined;
  if (!session) {
    const created = await createSession(msg.file, { ...msg, knownCudaFailure: cudaUnavailable });
    session = created.session;
    fellBackToCpu = created.fellBackToCpu;
    if (fellBackToCpu !== undefined) cudaUnavailable = fellBackToCpu;
    sessions.set(msg.model, session);
  }
  return { inputMetadata: session.inputMetadata, outputMetadata: session.outputMetadata, fellBackToCpu };
}

async function run(msg: Extract<ThreadRequest, { type: "run" }>): Promise<RunReply> {
  const session = sessions.get(msg.model);
  if (!session) throw new Error(`model ${msg.model.slice(0, 12)} is not loaded in the inference thread`);
  // Times only session.run: the part that occupies the card.
  const started = performance.now();
  const prediction = await runWav2LipBatch(session, msg.binding, msg);
  return { prediction, runSeconds: (performance.now() - started) / 1000 };
}

async function release(model?: string): Promise<void> {
  const names = model ? [model] : [...sessions.keys()];
  for (const name of names) {
    await sessions.get(name)?.release();
    sessions.delete(name);
  }
}

port.on("message", async (msg: ThreadRequest) => {
  try {
    let value: unknown;
    let transfer: ArrayBuffer[] = [];
    if (msg.type === "load") value = await load(msg);
    else if (msg.type === "run") {
      const reply = await run(msg);
      value = reply;
      transfer = [reply.prediction.buffer as ArrayBuffer];
    } else await release(msg.model);
    port.postMessage({ id: msg.id, ok: true, value } satisfies ThreadReply, transfer);
  } catch (err) {
    const e = err as Error;
    port.postMessage({ id: msg.id, ok: false, error: { name: e.name, message: e.message } } satisfies ThreadReply);
  }
});
