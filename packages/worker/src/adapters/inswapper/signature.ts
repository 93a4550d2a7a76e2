import type { InferenceSession } from "onnxruntime-node";
import { BadInputError } from "../../errors.ts";
import { describeValues, EMBEDDING_LENGTH, fitsTail } from "../arcface/signature.ts";

/** Side of the swapper's aligned face crop (in and out). */
export const SWAP_SIZE = 128;
/** Floats of one face crop: [3,128,128]. */
export const SWAP_FLOATS = 3 * SWAP_SIZE * SWAP_SIZE;

/** The swapper's input and output names, read from the model (names are not assumed). */
export interface InswapperBinding {
  target: string;
  source: string;
  output: string;
  /** The batch dimension when fixed (inswapper_128.onnx: 1): one face per run. */
  fixedBatch?: number;
}

type Meta = Pick<InferenceSession, "inputMetadata" | "outputMetadata">;
const shapeOf = (m: InferenceSession.ValueMetadata) => (m.isTensor ? m.shape : undefined);

export const INSWAPPER_SIGNATURE =
  "inputs target [1,3,128,128] (RGB in [0,1]) and source [1,512] and output [1,3,128,128], " +
  "with the 512x512 emap as the graph's last initializer";

/**
 * Checks a session against the inswapper-128 interface (insightface's and FaceFusion's
 * swapper): `target` float [B,3,128,128] RGB in [0,1], `source` float [B,512] (the source
 * identity: the normalized ArcFace embedding times the model's emap), output [B,3,128,128]
 * RGB in [0,1]. The inputs are told apart by shape.
 */
export function bindInswapper(session: Meta, modelLabel: string): InswapperBinding {
  const crop = [3, SWAP_SIZE, SWAP_SIZE];
  const target = session.inputMetadata.find((i) => fitsTail(shapeOf(i), crop));
  const source = session.inputMetadata.find((i) => fitsTail(shapeOf(i), [EMBEDDING_LENGTH]));
  const output = session.outputMetadata.find((o) => fitsTail(shapeOf(o), crop));
  if (session.inputMetadata.length !== 2 || !target || !source || !output)
    throw new BadInputError(
      `${modelLabel} does not fit the inswapper adapter, which needs ${INSWAPPER_SIGNATURE}; the model has ` +
        `inputs ${describeValues(session.inputMetadata)} and outputs ${describeValues(session.outputMetadata)}`,
    );
  const batch = shapeOf(target)?.[0];
  return {
    target: target.name,
    source: source.name,
    output: output.name,
    fixedBatch: typeof batch === "number" && batch > 0 ? batch : undefined,
  };
}
