import type { InferenceSession } from "onnxruntime-node";
import type { FaceBatch, Wav2LipBinding } from "../adapters/wav2lip.ts";
import type { BlazeFaceBinding, Face } from "../face/blazeface.ts";

/** Messages between the main thread (client.ts) and the inference thread (thread.ts). */
export type ExecutionProvider = "cpu" | "cuda" | "auto";

export type ThreadRequest =
  | {
      type: "load";
      id: number;
      model: string;
      file: string;
      label: string;
      provider: ExecutionProvider;
      deviceId: number;
    }
  | {
      type: "run";
      id: number;
      model: string;
      binding: Wav2LipBinding;
      /** Shared with the thread, or transferred there and back (see batchBuffers). */
      batch: FaceBatch;
    }
  | {
      type: "detect";
      id: number;
      model: string;
      binding: BlazeFaceBinding;
      frames: Uint8Array[];
      width: number;
      height: number;
      minScore: number;
    }
  | { type: "release"; id: number; model?: string };

export interface LoadReply {
  inputMetadata: readonly InferenceSession.ValueMetadata[];
  outputMetadata: readonly InferenceSession.ValueMetadata[];
  /** Set when ORT_EXECUTION_PROVIDER=auto could not use CUDA and fell back to CPU. */
  fellBackToCpu?: string;
}

export interface RunReply {
  /** The request's arrays (shared, or transferred back), with the prediction filled in. */
  batch: FaceBatch;
  /** Seconds inside session.run (the part that holds the card). */
  runSeconds: number;
}

export interface DetectBatch {
  frames: Uint8Array[];
  width: number;
  height: number;
  minScore: number;
}

export interface DetectReply {
  /** Per frame: the faces found, best first, in frame pixels. */
  faces: Face[][];
  runSeconds: number;
}

/** A batch's arrays to transfer (not copy) between the threads; shared ones need neither. */
export const batchBuffers = (b: FaceBatch): ArrayBuffer[] =>
  [b.face, b.mel, b.prediction].flatMap((a) => (a.buffer instanceof ArrayBuffer ? [a.buffer] : []));
