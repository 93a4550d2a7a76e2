/**
 * Binding a face detector's session by its signature, on the main thread: a model that does
 * not fit fails its items as bad input. Kept apart from blazeface.ts, which the inference
 * thread loads, so that thread never imports the failure policy (and with it @mediaq/shared,
 * tens of MB per thread: docs/architecture.md#worker).
 */
import type { InferenceSession } from "onnxruntime-node";
import { BadInputError } from "../errors.ts";
import { BLAZEFACE_CONFIGS, type BlazeFaceBinding } from "./blazeface.ts";

type Meta = Pick<InferenceSession, "inputMetadata" | "outputMetadata">;

export function bindBlazeFace(session: Meta, modelLabel: string): BlazeFaceBinding {
  const shape = (m: InferenceSession.ValueMetadata) => (m.isTensor ? m.shape : []);
  const input = session.inputMetadata[0];
  const size = input ? shape(input)[1] : undefined;
  const conf = typeof size === "number" ? BLAZEFACE_CONFIGS[size] : undefined;
  const outs = session.outputMetadata.map((m) => ({ name: m.name, shape: shape(m) }));
  const scores = outs.filter((o) => o.shape.length === 3 && o.shape[2] === 1);
  const heads = scores.map((s) => ({
    scores: s.name,
    boxes: outs.find((o) => o.shape.length === 3 && o.shape[2] === 16 && o.shape[1] === s.shape[1])?.name,
    count: s.shape[1] as number,
  }));
  // The stride-8 (or 16) head has more anchors and comes first in MediaPipe's anchor order.
  heads.sort((a, b) => b.count - a.count);
  const total = heads.reduce((n, h) => n + h.count, 0);
  if (
    !input ||
    !conf ||
    session.inputMetadata.length !== 1 ||
    heads.some((h) => !h.boxes) ||
    total !== conf.anchors.length
  )
    throw new BadInputError(
      `${modelLabel} does not fit the blazeface adapter, which needs one input [1,128,128,3] or [1,256,256,3] ` +
        `and score/regressor outputs for ${896} anchors ([1,N,1] and [1,N,16]); the model has inputs ` +
        `${session.inputMetadata.map((m) => `${m.name} [${shape(m).join(",")}]`).join(", ")} and outputs ` +
        `${outs.map((o) => `${o.name} [${o.shape.join(",")}]`).join(", ")}`,
    );
  return {
    input: input.name,
    size: conf.size,
    heads: heads as BlazeFaceBinding["heads"],
    minScore: conf.decode.minScoreThresh,
  };
}
