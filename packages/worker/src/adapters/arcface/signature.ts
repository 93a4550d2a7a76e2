import type { InferenceSession } from "onnxruntime-node";
import { BadInputError } from "../../errors.ts";

/** Side of the recognizer's aligned face crop. */
export const ARCFACE_SIZE = 112;
/** Length of an identity embedding. */
export const EMBEDDING_LENGTH = 512;

/** The recognizer's input and output names, read from the model (names are not assumed). */
export interface ArcFaceBinding {
  input: string;
  output: string;
}

type Meta = Pick<InferenceSession, "inputMetadata" | "outputMetadata">;
type Shape = readonly (number | string)[];
const shapeOf = (m: InferenceSession.ValueMetadata): Shape | undefined => (m.isTensor ? m.shape : undefined);
/** Fits when every fixed dimension after the batch matches (the batch may be symbolic). */
export const fitsTail = (shape: Shape | undefined, tail: number[]) =>
  shape?.length === tail.length + 1 && tail.every((d, i) => shape[i + 1] === d);
/** "name [1,3,112,112], ..." for an error message. */
export const describeValues = (list: readonly InferenceSession.ValueMetadata[]) =>
  list.map((m) => `${m.name} [${shapeOf(m)?.join(",") ?? "?"}]`).join(", ") || "none";

/** What an ArcFace recognizer must look like, for the error messages of both face-swap adapters. */
export const ARCFACE_SIGNATURE = "input [1,3,112,112] (RGB, (x-127.5)/127.5) and output [1,512]";

/**
 * Checks a session against the ArcFace interface (insightface's w600k_r50 and the like):
 * one float input [B,3,112,112], RGB normalized as (x - 127.5) / 127.5, one output [B,512].
 */
export function bindArcFace(session: Meta, modelLabel: string): ArcFaceBinding {
  const [input] = session.inputMetadata;
  const output = session.outputMetadata.find((o) => fitsTail(shapeOf(o), [EMBEDDING_LENGTH]));
  if (
    session.inputMetadata.length !== 1 ||
    !input ||
    !fitsTail(shapeOf(input), [3, ARCFACE_SIZE, ARCFACE_SIZE]) ||
    !output
  )
    throw new BadInputError(
      `${modelLabel} does not fit the arcface adapter, which needs ${ARCFACE_SIGNATURE}; the model has inputs ` +
        `${describeValues(session.inputMetadata)} and outputs ${describeValues(session.outputMetadata)}`,
    );
  return { input: input.name, output: output.name };
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
