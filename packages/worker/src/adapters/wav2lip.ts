import type { wav2lipParamsSchema } from "@mediaq/shared";
import type { InferenceSession } from "onnxruntime-node";
import type { z } from "zod";
import { Tensor } from "onnxruntime-node";
import { MEL } from "../audio/mel.ts";
import { BadInputError } from "../errors.ts";
import { FACE_FLOATS, FACE_SIZE as S } from "../frames/frame-ops.ts";

export type Wav2LipParams = z.infer<typeof wav2lipParamsSchema>;

/** Which session input/output plays which role, read from the model (names are not assumed). */
export interface Wav2LipBinding {
  mel: string;
  face: string;
  output: string;
  /** The model's batch dimension when it is fixed (e.g. exported with batch 1). */
  fixedBatch?: number;
}

type Shape = readonly (number | string)[];
const fits = (shape: Shape | undefined, tail: number[]) =>
  shape?.length === 4 && tail.every((d, i) => shape[i + 1] === d);
const showShape = (shape: Shape | undefined) => (shape?.length ? `[${shape.join(",")}]` : "[?]");

/** Checks a session against the adapter's signature and binds its input/output names. */
export function bindWav2Lip(
  session: Pick<InferenceSession, "inputMetadata" | "outputMetadata">,
  modelLabel: string,
): Wav2LipBinding {
  const shapes = (list: readonly InferenceSession.ValueMetadata[]) =>
    list.map((m) => ({ name: m.name, shape: m.isTensor ? m.shape : undefined }));
  const inputs = shapes(session.inputMetadata);
  const outputs = shapes(session.outputMetadata);
  const mel = inputs.find((i) => fits(i.shape, [1, 80, MEL.stepSize]));
  const face = inputs.find((i) => fits(i.shape, [6, S, S]));
  const output = outputs.find((o) => fits(o.shape, [3, S, S]));
  if (inputs.length !== 2 || !mel || !face || !output) {
    const list = (l: typeof inputs) => l.map((v) => `${v.name} ${showShape(v.shape)}`).join(", ") || "none";
    throw new BadInputError(
      `${modelLabel} does not fit the wav2lip adapter, which needs inputs mel [B,1,80,16] and face [B,6,96,96] ` +
        `and output [B,3,96,96]; the model has inputs ${list(inputs)} and outputs ${list(outputs)}`,
    );
  }
  const batch = face.shape?.[0];
  return {
    mel: mel.name,
    face: face.name,
    output: output.name,
    fixedBatch: typeof batch === "number" && batch > 0 ? batch : undefined,
  };
}

/** One model call's inputs, built by the frame path (frames/frame-path.ts). */
export interface FaceBatch {
  /** [b,6,96,96] face inputs (frame-ops crop), b = the model's fixed batch or `count`. */
  face: Float32Array;
  /** [b,1,80,16] mel windows, one per face. */
  mel: Float32Array;
  /** [b,3,96,96]: the model's prediction is copied here, so a batch's arrays are reused. */
  prediction: Float32Array;
  /** Faces that are real; a fixed-batch model's extra slots repeat the last one. */
  count: number;
}

/** One model call: fills `batch.prediction` ([count,3,96,96] in [0,1]; values may overshoot). */
export async function runWav2LipBatch(
  session: InferenceSession,
  binding: Wav2LipBinding,
  batch: FaceBatch,
): Promise<void> {
  const b = batch.face.length / FACE_FLOATS;
  if (binding.fixedBatch !== undefined && b !== binding.fixedBatch)
    throw new Error(`batch of ${b} faces does not fit the model's fixed batch size ${binding.fixedBatch}`);
  const result = await session.run({
    [binding.mel]: new Tensor("float32", batch.mel, [b, 1, 80, MEL.stepSize]),
    [binding.face]: new Tensor("float32", batch.face, [b, 6, S, S]),
  });
  batch.prediction.set((result[binding.output] as Tensor).data as Float32Array);
}
