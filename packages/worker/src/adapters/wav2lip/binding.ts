import type { AdapterParams } from "@mediaq/shared";
import { MEL } from "../../audio/mel.ts";
import { BadInputError } from "../../errors.ts";
import { FACE_FLOATS, FACE_SIZE as S } from "../../frames/frame-ops.ts";
import type { FaceBatch } from "../../frames/frame-path.ts";
import type { RunRequest, RunResult } from "../../inference/tensors.ts";
import type { ModelSignature } from "../adapter.ts";

export type Wav2LipParams = AdapterParams<"wav2lip">;

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
export function bindWav2Lip(session: ModelSignature, modelLabel: string): Wav2LipBinding {
  const shapes = (list: ModelSignature["inputMetadata"]) =>
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

/**
 * One model call on the inference thread (or any runner of named tensors): fills
 * `batch.prediction` ([count,3,96,96] in [0,1]; values may overshoot). The reply's batch
 * holds the same arrays (shared) or the ones transferred back.
 */
export async function runWav2LipBatch(
  run: (req: RunRequest) => Promise<RunResult>,
  binding: Wav2LipBinding,
  batch: FaceBatch,
): Promise<{ batch: FaceBatch; runSeconds: number }> {
  const b = batch.face.length / FACE_FLOATS;
  if (binding.fixedBatch !== undefined && b !== binding.fixedBatch)
    throw new Error(`batch of ${b} faces does not fit the model's fixed batch size ${binding.fixedBatch}`);
  const reply = await run({
    feeds: {
      [binding.mel]: { type: "float32", data: batch.mel, dims: [b, 1, 80, MEL.stepSize] },
      [binding.face]: { type: "float32", data: batch.face, dims: [b, 6, S, S] },
    },
    into: { [binding.output]: batch.prediction },
  });
  const array = (name: string) => reply.feeds[name]?.data as Float32Array;
  return {
    batch: {
      face: array(binding.face),
      mel: array(binding.mel),
      prediction: reply.into[binding.output] as Float32Array,
      count: batch.count,
    },
    runSeconds: reply.runSeconds,
  };
}
