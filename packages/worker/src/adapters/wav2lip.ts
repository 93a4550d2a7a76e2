import type { ChannelOrder, wav2lipParamsSchema } from "@mediaq/shared";
import type { InferenceSession } from "onnxruntime-node";
import type { z } from "zod";
import { Tensor } from "onnxruntime-node";
import { MEL, type MelSpectrogram, melWindow } from "../audio/mel.ts";
import { BadInputError } from "../errors.ts";
import { pastePlanar, type Rect, resizeRegion } from "./image.ts";

export const WAV2LIP_FACE_SIZE = 96;
/** For each tensor channel, the rgb24 channel it holds (bgr swaps red and blue). */
export const CHANNEL_SOURCES: Record<ChannelOrder, readonly [number, number, number]> = {
  rgb: [0, 1, 2],
  bgr: [2, 1, 0],
};
const S = WAV2LIP_FACE_SIZE;

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

export interface FrameBatch {
  /** rgb24 frames, changed in place. */
  frames: Uint8Array[];
  /** Output-timeline index of frames[0] (selects its mel window). */
  firstIndex: number;
  /** Each frame's face crop (looked up by its source frame); null = no face, the frame passes through unchanged. */
  rects: (Rect | null)[];
}

export interface Wav2LipContext {
  mel: MelSpectrogram;
  fps: number;
  /** Channel order of the model's image tensors (frames are rgb24). */
  channels: ChannelOrder;
  width: number;
  height: number;
}

/**
 * One model call for the frames of a batch that have a face crop (the others are left as
 * they are): face tensor = (crop with its lower half zeroed, crop) as 6 channels in [0,1] in
 * the model's channel order (Wav2Lip's cv2 code feeds BGR), mel tensor = each frame's 16-frame
 * mel window; the prediction (same channel order) is resized back and pasted into the crop.
 */
export async function runWav2LipBatch(
  session: InferenceSession,
  binding: Wav2LipBinding,
  batch: FrameBatch,
  ctx: Wav2LipContext,
): Promise<void> {
  const faces = batch.rects.flatMap((rect, i) => (rect ? [{ i, rect }] : []));
  const n = faces.length;
  if (n === 0) return;
  const b = binding.fixedBatch ?? n;
  if (n > b) throw new Error(`batch of ${n} frames exceeds the model's fixed batch size ${b}`);
  const plane = S * S;
  const face = new Float32Array(b * 6 * plane);
  const mel = new Float32Array(b * 80 * MEL.stepSize);
  for (let i = 0; i < b; i++) {
    // a fixed-batch model gets the last face repeated
    const src = faces[Math.min(i, n - 1)] as { i: number; rect: Rect };
    const crop = resizeRegion(
      { width: ctx.width, height: ctx.height, data: batch.frames[src.i] as Uint8Array },
      src.rect,
      S,
      S,
    );
    const base = i * 6 * plane;
    const order = CHANNEL_SOURCES[ctx.channels];
    for (let p = 0; p < plane; p++) {
      const masked = p >= plane / 2; // rows S/2.. (the lower half) are hidden from the model
      for (let c = 0; c < 3; c++) {
        const v = (crop[p * 3 + (order[c] as number)] as number) / 255;
        face[base + c * plane + p] = masked ? 0 : v;
        face[base + (3 + c) * plane + p] = v;
      }
    }
    melWindow(
      ctx.mel,
      batch.firstIndex + src.i,
      ctx.fps,
      mel.subarray(i * 80 * MEL.stepSize, (i + 1) * 80 * MEL.stepSize),
    );
  }
  const result = await session.run({
    [binding.mel]: new Tensor("float32", mel, [b, 1, 80, MEL.stepSize]),
    [binding.face]: new Tensor("float32", face, [b, 6, S, S]),
  });
  const out = result[binding.output] as Tensor;
  const pred = out.data as Float32Array;
  faces.forEach(({ i: frameIndex, rect }, i) => {
    pastePlanar(
      pred.subarray(i * 3 * plane, (i + 1) * 3 * plane),
      S,
      { width: ctx.width, height: ctx.height, data: batch.frames[frameIndex] as Uint8Array },
      rect,
      CHANNEL_SOURCES[ctx.channels],
    );
  });
  out.dispose();
}
