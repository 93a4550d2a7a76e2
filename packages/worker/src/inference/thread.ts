/**
 * The inference thread: owns the models' ONNX Runtime sessions and runs any adapter's model
 * on named tensors (tensors.ts); the frames stay on the main thread. onnxruntime-node's
 * session.run is synchronous on the calling thread, so running it here keeps the main
 * thread's event loop free for BullMQ's lock renewal, progress and metrics during
 * minutes-long jobs. Face detection (the face-track helper) runs here too.
 */
import { parentPort } from "node:worker_threads";
import type { InferenceSession } from "onnxruntime-node";
import { detectFaces } from "../face/blazeface.ts";
import { serveRequests } from "../thread-rpc.ts";
import { createSession } from "./create-session.ts";
import type { DetectReply, LoadReply, ThreadRequest } from "./protocol.ts";
import { runTensors, transferable } from "./tensors.ts";

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

function sessionOf(model: string): InferenceSession {
  const session = sessions.get(model);
  if (!session) throw new Error(`model ${model.slice(0, 12)} is not loaded in the inference thread`);
  return session;
}

/** The model's session wrapped so only session.run is timed: the part that occupies the card. */
function timedSession(model: string): { session: InferenceSession; seconds(): number } {
  const session = sessionOf(model);
  let runSeconds = 0;
  const timed = {
    run: async (...args: Parameters<InferenceSession["run"]>) => {
      const started = performance.now();
      try {
        return await session.run(...args);
      } finally {
        runSeconds += (performance.now() - started) / 1000;
      }
    },
  } as unknown as InferenceSession;
  return { session: timed, seconds: () => runSeconds };
}

async function detect(msg: Extract<ThreadRequest, { type: "detect" }>): Promise<DetectReply> {
  const timed = timedSession(msg.model);
  const faces = [];
  for (const data of msg.frames)
    faces.push(
      await detectFaces(timed.session, msg.binding, { width: msg.width, height: msg.height, data }, msg.minScore),
    );
  return { faces, runSeconds: timed.seconds() };
}

async function release(model?: string): Promise<void> {
  const names = model ? [model] : [...sessions.keys()];
  for (const name of names) {
    await sessions.get(name)?.release();
    sessions.delete(name);
  }
}

serveRequests(parentPort, "inference/thread.ts", async (msg: ThreadRequest) => {
  if (msg.type === "load") return { value: await load(msg) };
  if (msg.type === "run") {
    const reply = await runTensors(sessionOf(msg.model), msg);
    // Outputs own their new buffers: they move to the main thread too.
    return { value: reply, transfer: transferable(reply.feeds, reply.into, reply.outputs) };
  }
  if (msg.type === "detect") return { value: await detect(msg) };
  await release(msg.model);
  return {};
});
