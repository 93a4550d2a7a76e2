import { matchInswapper, SWAP_SIZE } from "@mediaq/shared";
import type { InferenceSession } from "onnxruntime-node";
import { BadInputError } from "../../errors.ts";
import { signatureOf } from "../arcface/signature.ts";

export { INSWAPPER_SIGNATURE, SWAP_SIZE } from "@mediaq/shared";
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

/**
 * Checks a session against the inswapper-128 interface (insightface's and FaceFusion's
 * swapper): `target` float [B,3,128,128] RGB in [0,1], `source` float [B,512] (the source
 * identity: the normalized ArcFace embedding times the model's emap), output [B,3,128,128]
 * RGB in [0,1]. The inputs are told apart by shape.
 */
export function bindInswapper(
  session: Pick<InferenceSession, "inputMetadata" | "outputMetadata">,
  modelLabel: string,
): InswapperBinding {
  const match = matchInswapper(signatureOf(session), modelLabel);
  if (!match.ok) throw new BadInputError(match.message);
  return match.binding;
}
