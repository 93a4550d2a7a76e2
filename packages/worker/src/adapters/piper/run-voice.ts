import type { RunRequest, RunResult } from "../../inference/tensors.ts";
import type { PiperBinding } from "./binding.ts";

/** One run's inputs: a sentence (or run of one) as ids, with the item's scales and speaker. */
export interface VoiceRun {
  ids: readonly number[];
  scales: readonly [number, number, number];
  speakerId?: number;
}

/** A model's session.run on named tensors: the inference thread's (ModelHandle.run), or runTensors on a session. */
export type RunTensors = (req: RunRequest) => Promise<RunResult>;

/** The named tensors of one run, as Piper feeds them: ids [1,N], their count [1], scales [3], sid [1]. */
export function voiceFeeds(binding: PiperBinding, run: VoiceRun): RunRequest {
  const n = run.ids.length;
  return {
    feeds: {
      [binding.input]: { type: "int64", data: BigInt64Array.from(run.ids, BigInt), dims: [1, n] },
      [binding.inputLengths]: { type: "int64", data: BigInt64Array.of(BigInt(n)), dims: [1] },
      [binding.scales]: { type: "float32", data: Float32Array.from(run.scales), dims: [3] },
      ...(binding.sid
        ? { [binding.sid]: { type: "int64" as const, data: BigInt64Array.of(BigInt(run.speakerId ?? 0)), dims: [1] } }
        : {}),
    },
    fetch: [binding.output],
  };
}

/** One run of a Piper voice: its float audio in [-1, 1], and the seconds inside session.run. */
export async function runVoice(
  run: RunTensors,
  binding: PiperBinding,
  voiceRun: VoiceRun,
): Promise<{ audio: Float32Array; runSeconds: number }> {
  const result = await run(voiceFeeds(binding, voiceRun));
  const out = result.outputs[binding.output];
  if (!out || out.type !== "float32") throw new Error(`the voice's output ${binding.output} is not float32 audio`);
  return { audio: out.data as Float32Array, runSeconds: result.runSeconds };
}
