import { type InferenceSession, Tensor } from "onnxruntime-node";
import { describe, expect, it } from "vitest";
import { melSpectrogram } from "../audio/mel.ts";
import { runWav2LipBatch } from "./wav2lip.ts";

const S = 96;
const PLANE = S * S;

/** A session that records the face tensor it is given and answers with `answer` (per plane value). */
function recordingSession(answer: [number, number, number]) {
  const seen: { face?: Float32Array } = {};
  const session = {
    run: async (feeds: Record<string, Tensor>) => {
      seen.face = (feeds.face as Tensor).data as Float32Array;
      const out = new Float32Array(3 * PLANE);
      for (const [c, v] of answer.entries()) out.fill(v, c * PLANE, (c + 1) * PLANE);
      return { output: new Tensor("float32", out, [1, 3, S, S]) };
    },
  } as unknown as InferenceSession;
  return { session, seen };
}

async function runOnRed(channels: "bgr" | "rgb", answer: [number, number, number]) {
  const width = 8;
  const height = 8;
  const frame = new Uint8Array(width * height * 3);
  for (let p = 0; p < width * height; p++) frame.set([255, 0, 0], p * 3); // pure red
  const { session, seen } = recordingSession(answer);
  await runWav2LipBatch(
    session,
    { mel: "mel", face: "face", output: "output" },
    { frames: [frame], firstIndex: 0, rects: [{ x1: 0, y1: 0, x2: width, y2: height }] },
    { mel: melSpectrogram(new Float32Array(16_000)), fps: 25, channels, width, height },
  );
  const face = seen.face as Float32Array;
  // Channels 3..5 hold the whole reference crop; 0..2 the same with the lower half zeroed.
  const tensor = [3, 4, 5].map((c) => face[c * PLANE] as number);
  return { tensor, pasted: Array.from(frame.subarray(0, 3)) };
}

describe("wav2lip adapter: channel order", () => {
  it("bgr: a red pixel reaches the tensor as channel 2, and the prediction comes back in bgr", async () => {
    const { tensor, pasted } = await runOnRed("bgr", [1, 0, 0]); // the model answers pure blue in bgr
    expect(tensor).toEqual([0, 0, 1]);
    expect(pasted).toEqual([0, 0, 255]);
  });

  it("rgb: a red pixel reaches the tensor as channel 0", async () => {
    const { tensor, pasted } = await runOnRed("rgb", [1, 0, 0]);
    expect(tensor).toEqual([1, 0, 0]);
    expect(pasted).toEqual([255, 0, 0]);
  });
});
