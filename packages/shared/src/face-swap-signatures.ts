/**
 * The ONNX signatures of face swap's two models (docs/architecture.md#face-swap), checked by
 * the API when a model is registered (from the file's graph) and by the worker when it binds
 * a loaded session (from ONNX Runtime's metadata): both give a model's inputs and outputs as
 * SignatureValues. A model that does not fit gets both signatures in the message.
 */
import type { SignatureValue } from "./piper-voice.ts";

export const EMBEDDING_LENGTH = 512;
export const ARCFACE_SIZE = 112;
export const SWAP_SIZE = 128;

export const ARCFACE_SIGNATURE = "input [1,3,112,112] (RGB, (x-127.5)/127.5) and output [1,512]";
export const INSWAPPER_SIGNATURE =
  "inputs target [1,3,128,128] (RGB in [0,1]) and source [1,512] and output [1,3,128,128], " +
  "with the 512x512 emap as the graph's last initializer";

type Model = { inputs: readonly SignatureValue[]; outputs: readonly SignatureValue[] };
type Match<B> = { ok: true; binding: B } | { ok: false; message: string };

/** Fits when every fixed dimension after the batch matches (the batch may be symbolic). */
const fitsTail = (shape: SignatureValue["shape"], tail: number[]) =>
  shape?.length === tail.length + 1 && tail.every((d, i) => shape[i + 1] === d);
const describe = (list: readonly SignatureValue[]) =>
  list.map((v) => `${v.name} [${v.shape?.join(",") ?? "?"}]`).join(", ") || "none";
const misfit = (label: string, adapter: string, needs: string, m: Model) => ({
  ok: false as const,
  message:
    `${label} does not fit the ${adapter} adapter, which needs ${needs}; the model has inputs ` +
    `${describe(m.inputs)} and outputs ${describe(m.outputs)}`,
});

/** ArcFace (insightface's w600k_r50 and the like): one input [B,3,112,112], one output [B,512]. */
export function matchArcFace(m: Model, label: string): Match<{ input: string; output: string }> {
  const [input] = m.inputs;
  const output = m.outputs.find((o) => fitsTail(o.shape, [EMBEDDING_LENGTH]));
  if (m.inputs.length !== 1 || !input || !fitsTail(input.shape, [3, ARCFACE_SIZE, ARCFACE_SIZE]) || !output)
    return misfit(label, "arcface", ARCFACE_SIGNATURE, m);
  return { ok: true, binding: { input: input.name, output: output.name } };
}

/** inswapper-128: target [B,3,128,128] and source [B,512] (told apart by shape), output [B,3,128,128]. */
export function matchInswapper(
  m: Model,
  label: string,
): Match<{ target: string; source: string; output: string; fixedBatch?: number }> {
  const crop = [3, SWAP_SIZE, SWAP_SIZE];
  const target = m.inputs.find((i) => fitsTail(i.shape, crop));
  const source = m.inputs.find((i) => fitsTail(i.shape, [EMBEDDING_LENGTH]));
  const output = m.outputs.find((o) => fitsTail(o.shape, crop));
  if (m.inputs.length !== 2 || !target || !source || !output) return misfit(label, "inswapper", INSWAPPER_SIGNATURE, m);
  const batch = target.shape?.[0];
  return {
    ok: true,
    binding: {
      target: target.name,
      source: source.name,
      output: output.name,
      fixedBatch: typeof batch === "number" && batch > 0 ? batch : undefined,
    },
  };
}
