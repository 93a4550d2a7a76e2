import type { InferenceSession } from "onnxruntime-node";
import type { BlazeFaceBinding, Face } from "../face/blazeface.ts";
import type { RunRequest } from "./tensors.ts";

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
  | ({
      /** One session.run of any adapter's model on named tensors (tensors.ts). */
      type: "run";
      id: number;
      model: string;
    } & RunRequest)
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
