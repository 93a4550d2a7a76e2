import fs from "node:fs";
import { InferenceSession, Tensor } from "onnxruntime-node";
import { describe, expect, it } from "vitest";
import {
  buildDemoModel,
  DEMO_MODEL_PATH,
  DEMO_REGISTRATION_PATH,
  demoRegistrationJson,
} from "../scripts/make-demo-model.ts";

const SIZE = 96;

function faceTensor(batch: number): Tensor {
  const data = new Float32Array(batch * 6 * SIZE * SIZE);
  for (let i = 0; i < data.length; i++) data[i] = 0.3 + (0.4 * ((i * 7919) % 97)) / 97;
  return new Tensor("float32", data, [batch, 6, SIZE, SIZE]);
}

const melTensor = (batch: number, value: number) =>
  new Tensor("float32", new Float32Array(batch * 80 * 16).fill(value), [batch, 1, 80, 16]);

describe("demo wav2lip model", () => {
  it("is the committed file, byte for byte", () => {
    expect(Buffer.from(buildDemoModel()).equals(fs.readFileSync(DEMO_MODEL_PATH))).toBe(true);
  });

  it("ships the registration it declares (adapter, channel order), as the script writes it", () => {
    expect(fs.readFileSync(DEMO_REGISTRATION_PATH, "utf8")).toBe(demoRegistrationJson());
    expect(JSON.parse(demoRegistrationJson())).toEqual({ adapter: "wav2lip", channels: "rgb" });
  });

  it("loads in onnxruntime with the Wav2Lip signature and animates the mouth with loudness", async () => {
    const session = await InferenceSession.create(DEMO_MODEL_PATH);
    expect(session.inputNames).toEqual(["mel", "face"]);
    expect(session.outputNames).toEqual(["output"]);
    const face = faceTensor(3);
    const run = async (mel: number) => {
      const out = await session.run({ mel: melTensor(3, mel), face });
      return out.output as Tensor;
    };
    const silent = await run(-4);
    const loud = await run(1);
    expect(silent.dims).toEqual([3, 3, SIZE, SIZE]);
    const reference = (face.data as Float32Array).subarray(3 * SIZE * SIZE, 6 * SIZE * SIZE);
    const firstSilent = (silent.data as Float32Array).subarray(0, 3 * SIZE * SIZE);
    // Silence: the reference face comes back unchanged.
    expect(firstSilent).toEqual(reference);
    const at = (t: Tensor, c: number, y: number, x: number) =>
      (t.data as Float32Array)[(c * SIZE + y) * SIZE + x] as number;
    // Loud: the mouth centre is darkened, the forehead is not.
    expect(at(loud, 0, 72, 48)).toBeLessThan(at(silent, 0, 72, 48) * 0.5);
    expect(at(loud, 1, 10, 48)).toBe(at(silent, 1, 10, 48));
    await session.release();
  });
});
