import { matchArcFace, type SignatureValue } from "@mediaq/shared";
import type { InferenceSession } from "onnxruntime-node";
import { BadInputError } from "../../errors.ts";

export { ARCFACE_SIGNATURE, ARCFACE_SIZE, EMBEDDING_LENGTH } from "@mediaq/shared";

/** The recognizer's input and output names, read from the model (names are not assumed). */
export interface ArcFaceBinding {
  input: string;
  output: string;
}

type Meta = Pick<InferenceSession, "inputMetadata" | "outputMetadata">;

/** ONNX Runtime's metadata as the signature shared's checks read (the API reads the same from the file). */
export const signatureOf = (session: Meta): { inputs: SignatureValue[]; outputs: SignatureValue[] } => {
  const value = (m: InferenceSession.ValueMetadata): SignatureValue =>
    m.isTensor ? { name: m.name, type: m.type, shape: m.shape } : { name: m.name };
  return { inputs: session.inputMetadata.map(value), outputs: session.outputMetadata.map(value) };
};

/**
 * Checks a session against the ArcFace interface (insightface's w600k_r50 and the like):
 * one float input [B,3,112,112], RGB normalized as (x - 127.5) / 127.5, one output [B,512].
 */
export function bindArcFace(session: Meta, modelLabel: string): ArcFaceBinding {
  const match = matchArcFace(signatureOf(session), modelLabel);
  if (!match.ok) throw new BadInputError(match.message);
  return match.binding;
}

/**
 * The recognizer's input from an aligned crop in [0,1] ([3,112,112], RGB): (x*255 - 127.5) / 127.5,
 * as insightface's ArcFaceONNX feeds models exported from PyTorch.
 */
export function arcfaceInput(crop: Float32Array): Float32Array {
  return crop.map((v) => (v * 255 - 127.5) / 127.5);
}

/** The embedding scaled to unit length (insightface's normed_embedding). */
export function normalizeEmbedding(embedding: Float32Array): Float32Array {
  let sum = 0;
  for (const v of embedding) sum += v * v;
  const norm = Math.sqrt(sum);
  if (!(norm > 0) || !Number.isFinite(norm))
    throw new BadInputError("the recognizer returned a zero or invalid embedding");
  return embedding.map((v) => v / norm);
}
