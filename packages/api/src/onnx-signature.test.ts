import fs from "node:fs";
import { describe, expect, it } from "vitest";
import { readOnnxSignature } from "./onnx-signature.ts";

/** The bytes in chunks of `size`, as an S3 body arrives. */
async function* chunks(bytes: Uint8Array, size: number) {
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
}
const demoModel = fs.readFileSync(new URL("../../worker/models/demo-wav2lip.onnx", import.meta.url));

describe("readOnnxSignature", () => {
  it("reads a model's graph inputs and outputs with their types and shapes, whatever the chunking", async () => {
    for (const size of [1, 7, 4096, demoModel.length])
      expect(await readOnnxSignature(chunks(demoModel, size))).toEqual({
        inputs: [
          { name: "mel", type: "float32", shape: ["batch", 1, 80, 16] },
          { name: "face", type: "float32", shape: ["batch", 6, 96, 96] },
        ],
        outputs: [{ name: "output", type: "float32", shape: ["batch", 3, 96, 96] }],
      });
  });

  it("refuses bytes that are not a protobuf model", async () => {
    await expect(readOnnxSignature(chunks(new TextEncoder().encode("hello, not a model"), 4))).rejects.toThrow(
      /not an ONNX model/,
    );
    await expect(readOnnxSignature(chunks(demoModel.subarray(0, demoModel.length - 100), 512))).rejects.toThrow(
      /not an ONNX model/,
    );
  });
});
