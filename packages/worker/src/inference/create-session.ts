import { InferenceSession } from "onnxruntime-node";
import type { ExecutionProvider } from "./protocol.ts";

export interface CreatedSession {
  session: InferenceSession;
  /** Why ORT_EXECUTION_PROVIDER=auto ran on the CPU (CUDA failed to load); undefined otherwise. */
  fellBackToCpu?: string;
}

/**
 * An ONNX Runtime session on the configured execution provider: `cuda` or CPU, and for `auto`
 * CUDA when it loads, else the CPU. `knownCudaFailure` skips a CUDA attempt already known to fail.
 */
export async function createSession(
  model: string | Uint8Array,
  o: { provider: ExecutionProvider; deviceId: number; label: string; knownCudaFailure?: string },
): Promise<CreatedSession> {
  let fellBackToCpu: string | undefined;
  if (o.provider === "auto" && o.knownCudaFailure) fellBackToCpu = o.knownCudaFailure;
  else if (o.provider !== "cpu") {
    try {
      const session = await create(model, {
        executionProviders: [{ name: "cuda", deviceId: o.deviceId }],
        logSeverityLevel: o.provider === "auto" ? 4 : 2, // auto: our one warning says it
      });
      return { session };
    } catch (err) {
      const detail = (err as Error).message.split("\n")[0] ?? "unknown error";
      if (o.provider === "cuda")
        throw new Error(`CUDA execution provider unavailable for ${o.label} on device ${o.deviceId}: ${detail}`);
      fellBackToCpu = detail;
    }
  }
  try {
    // No spin-waiting between runs: on the CPU the model shares the cores with ffmpeg's
    // decoder and encoder, which idle spinning threads would slow down.
    // Severity 3: the BlazeFace exports carry unused initializers ONNX Runtime warns about.
    const options = {
      executionProviders: ["cpu"],
      logSeverityLevel: 3 as const,
      extra: { session: { intra_op: { allow_spinning: "0" } } },
    };
    return { session: await create(model, options), fellBackToCpu };
  } catch (err) {
    const detail = (err as Error).message.split("\n")[0];
    throw Object.assign(new Error(`${o.label} could not be loaded by onnxruntime (is it an ONNX model?): ${detail}`), {
      name: "BadInputError",
    });
  }
}

const create = (model: string | Uint8Array, options: InferenceSession.SessionOptions) =>
  typeof model === "string" ? InferenceSession.create(model, options) : InferenceSession.create(model, options);
