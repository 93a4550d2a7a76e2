/**
 * Named tensors in and out of one session.run, for any adapter (docs/architecture.md#adapters).
 * Arrays on a SharedArrayBuffer are seen by the inference thread where they are (the lip-sync
 * frame path's batches); others are transferred there and back, never copied. An output
 * named in `into` is written into the caller's array, so a reused (shared) array takes the
 * prediction without a new buffer crossing threads.
 */
import { type InferenceSession, Tensor } from "onnxruntime-node";

export type TensorArray = Float32Array | Int32Array | BigInt64Array | Uint8Array | Int8Array | Uint16Array;
export type TensorType = "float32" | "int32" | "int64" | "uint8" | "int8" | "float16";

export interface TensorData<A extends TensorArray = TensorArray> {
  type: TensorType;
  data: A;
  dims: readonly number[];
}

export interface RunRequest {
  feeds: Record<string, TensorData>;
  /** Outputs to write into these arrays (same length as the output). */
  into?: Record<string, TensorArray>;
  /** Outputs to return as new arrays; default: every output not written `into`. */
  fetch?: string[];
}

export interface RunResult {
  /** The request's feeds and `into` arrays (shared, or transferred back), `into` filled in. */
  feeds: Record<string, TensorData>;
  into: Record<string, TensorArray>;
  /** Outputs fetched as new arrays. */
  outputs: Record<string, TensorData>;
  /** Seconds inside session.run (the part that holds the card). */
  runSeconds: number;
}

/** One session.run on named tensors; runs on whatever thread holds the session. */
export async function runTensors(session: InferenceSession, req: RunRequest): Promise<RunResult> {
  const feeds: Record<string, Tensor> = {};
  for (const [name, t] of Object.entries(req.feeds))
    feeds[name] = new Tensor(t.type, t.data as Float32Array, t.dims as number[]);
  const into = req.into ?? {};
  const started = performance.now();
  const result = await session.run(feeds);
  const runSeconds = (performance.now() - started) / 1000;
  for (const [name, target] of Object.entries(into)) {
    const out = result[name];
    if (!out) throw new Error(`the model has no output named ${name}`);
    (target as Float32Array).set(out.data as Float32Array);
  }
  const outputs: Record<string, TensorData> = {};
  const wanted = req.fetch ?? Object.keys(result).filter((name) => !(name in into));
  for (const name of wanted) {
    const out = result[name];
    if (!out) throw new Error(`the model has no output named ${name}`);
    outputs[name] = { type: out.type as TensorType, data: out.data as TensorArray, dims: out.dims };
  }
  return { feeds: req.feeds, into, outputs, runSeconds };
}

/** Arrays to transfer (not copy) between threads: those not on shared memory. */
export function transferable(...groups: (Record<string, TensorData> | Record<string, TensorArray>)[]): ArrayBuffer[] {
  const buffers = new Set<ArrayBuffer>();
  for (const group of groups)
    for (const value of Object.values(group)) {
      const array = "dims" in value ? value.data : value;
      if (array.buffer instanceof ArrayBuffer) buffers.add(array.buffer);
    }
  return [...buffers];
}
