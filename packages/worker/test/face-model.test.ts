import { execFileSync } from "node:child_process";
import { createRequire } from "node:module";
import path from "node:path";
import { DEFAULT_FACE_DETECTOR } from "@mediaq/shared";
import { InferenceSession, Tensor } from "onnxruntime-node";
import { describe, expect, it } from "vitest";
import { astronautPng } from "../../../test/harness/face-footage.ts";
import { toInputTensor } from "../src/face/blazeface.ts";
import { bindBlazeFace } from "../src/face/blazeface-binding.ts";
import { shippedModelFile } from "../src/face/shipped-detector.ts";

const onnxDir = path.join(
  path.dirname(createRequire(import.meta.url).resolve(`${DEFAULT_FACE_DETECTOR.npmPackage}/package.json`)),
  "ONNX",
);

function rgb(file: string, width: number, height: number): Uint8Array {
  return new Uint8Array(
    execFileSync("ffmpeg", [
      "-v",
      "error",
      "-i",
      file,
      "-f",
      "rawvideo",
      "-pix_fmt",
      "rgb24",
      "-s",
      `${width}x${height}`,
      "-",
    ]),
  );
}

describe("BlazeFace models", () => {
  it("scores the astronaut at 0.92 with the short-range model (RGB in [-1,1], as the issue measured)", async () => {
    const session = await InferenceSession.create(path.join(onnxDir, "face_detection_front_128x128_barracuda.onnx"), {
      logSeverityLevel: 3,
    });
    const binding = bindBlazeFace(session, "front");
    const { data } = toInputTensor({ width: 128, height: 128, data: rgb(astronautPng(), 128, 128) }, 128);
    const out = await session.run({ [binding.input]: new Tensor("float32", data, [1, 128, 128, 3]) });
    const logits = binding.heads.flatMap((h) => [...((out[h.scores] as Tensor).data as Float32Array)]);
    const best = 1 / (1 + Math.exp(-Math.max(...logits)));
    expect(best).toBeCloseTo(0.92, 2);
    await session.release();
  });

  it("ships the full-range detector, checked against its hash", async () => {
    const file = await shippedModelFile(DEFAULT_FACE_DETECTOR.sha256);
    expect(file).toBe(path.join(onnxDir, "face_detection_back_256x256_barracuda.onnx"));
    expect(await shippedModelFile("0".repeat(64))).toBeUndefined();
  });
});
