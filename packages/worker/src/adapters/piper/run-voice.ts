import type { InferenceSession } from "onnxruntime-node";
import { Tensor } from "onnxruntime-node";
import type { PiperBinding } from "./binding.ts";

/** One run's inputs: a sentence (or run of one) as ids, with the item's scales and speaker. */
export interface VoiceRun {
  ids: readonly number[];
  scales: readonly [number, number, number];
  speakerId?: number;
}

/** One session.run of a Piper voice: its float audio in [-1, 1] (copied out of the output tensor). */
export async function runVoice(session: InferenceSession, binding: PiperBinding, run: VoiceRun): Promise<Float32Array> {
  const n = run.ids.length;
  const feeds: Record<string, Tensor> = {
    [binding.input]: new Tensor("int64", BigInt64Array.from(run.ids, BigInt), [1, n]),
    [binding.inputLengths]: new Tensor("int64", BigInt64Array.of(BigInt(n)), [1]),
    [binding.scales]: new Tensor("float32", Float32Array.from(run.scales), [3]),
  };
  if (binding.sid) feeds[binding.sid] = new Tensor("int64", BigInt64Array.of(BigInt(run.speakerId ?? 0)), [1]);
  const result = await session.run(feeds);
  const audio = result[binding.output] as Tensor;
  const data = Float32Array.from(audio.data as Float32Array);
  audio.dispose();
  return data;
}
