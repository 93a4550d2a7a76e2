/**
 * The face-swap adapters bind models by their signatures (src/adapters/inswapper/signature.ts,
 * src/adapters/arcface/signature.ts) and read the swapper's emap from its ONNX bytes; the
 * models are the ones built in code (scripts/face-swap-models.ts), run by onnxruntime-node.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { InferenceSession, Tensor } from "onnxruntime-node";
import { describe, expect, it } from "vitest";
import {
  buildArcFaceStandIn,
  buildIdentitySwapper,
  buildPaintingSwapper,
  buildSwapperWithoutEmap,
  buildWrongSwapper,
  DEMO_SWAP_MODELS_DIR,
  fixedMatrix,
  paintColour,
  TEST_EMAP,
} from "../scripts/face-swap-models.ts";
import { DEMO_MODEL_PATH } from "../scripts/make-demo-model.ts";
import { bindArcFace } from "../src/adapters/arcface/signature.ts";
import { emapOfBytes, emapOfFile } from "../src/adapters/inswapper/emap.ts";
import { bindInswapper } from "../src/adapters/inswapper/signature.ts";

const load = (bytes: Uint8Array) => InferenceSession.create(bytes, { logSeverityLevel: 3 });

describe("face-swap model signatures", () => {
  it("binds the inswapper-128 interface by shape, whatever the names", async () => {
    for (const bytes of [buildIdentitySwapper(), buildPaintingSwapper()]) {
      const session = await load(bytes);
      expect(bindInswapper(session, "swapper")).toEqual({
        target: "target",
        source: "source",
        output: "output",
        fixedBatch: 1,
      });
      await session.release();
    }
  });

  it("refuses a model that does not fit the swapper, naming both signatures", async () => {
    for (const bytes of [buildWrongSwapper(), buildArcFaceStandIn(), fs.readFileSync(DEMO_MODEL_PATH)]) {
      const session = await load(bytes);
      expect(() => bindInswapper(session, "model abc")).toThrow(
        /model abc does not fit the inswapper adapter, which needs inputs target \[1,3,128,128\].*; the model has inputs .*\[/,
      );
      await session.release();
    }
    const wrong = await load(buildWrongSwapper());
    expect(() => bindInswapper(wrong, "m")).toThrow("the model has inputs target [1,3,256,256], source [1,512]");
  });

  it("binds the ArcFace interface and refuses a swapper as a recognizer, naming both signatures", async () => {
    const arcface = await load(buildArcFaceStandIn());
    expect(bindArcFace(arcface, "r")).toEqual({ input: "input.1", output: "683" });
    const swapper = await load(buildIdentitySwapper());
    expect(() => bindArcFace(swapper, "model r")).toThrow(
      "model r does not fit the arcface adapter, which needs input [1,3,112,112] (RGB, (x-127.5)/127.5) and output [1,512]; " +
        "the model has inputs target [1,3,128,128], source [1,512] and outputs output [1,3,128,128]",
    );
  });

  it("reads the emap (the graph's last initializer) from the bytes and from a file, and refuses a model without one", async () => {
    const bytes = buildPaintingSwapper();
    expect(await emapOfBytes(bytes, "m")).toEqual(TEST_EMAP);
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "emap-")), "swapper.onnx");
    fs.writeFileSync(file, bytes);
    expect(await emapOfFile(file, "m")).toEqual(TEST_EMAP);
    await expect(emapOfBytes(buildSwapperWithoutEmap(), "model x")).rejects.toThrow(
      "model x does not fit the inswapper adapter: its last initializer bias is [1]",
    );
    await expect(emapOfBytes(new Uint8Array([1, 2, 3]), "model y")).rejects.toThrow("model y is not a valid ONNX file");
  });

  it("has test models that behave as documented: identity gives the target, painting a colour of the source, arcface depends on the image", async () => {
    const target = new Tensor(
      "float32",
      fixedMatrix(1, 3 * 128 * 128, 5).map((v) => v + 0.5),
      [1, 3, 128, 128],
    );
    const source = new Tensor("float32", fixedMatrix(1, 512, 6), [1, 512]);
    const identity = await load(buildIdentitySwapper());
    expect((await identity.run({ target, source })).output?.data).toEqual(target.data);
    const painting = await load(buildPaintingSwapper());
    const out = (await painting.run({ target, source })).output?.data as Float32Array;
    const colour = paintColour(source.data as Float32Array);
    for (const c of [0, 1, 2]) {
      expect(out[c * 128 * 128]).toBeCloseTo(colour[c] as number, 5);
      expect(out[c * 128 * 128 + 9000]).toBeCloseTo(colour[c] as number, 5);
    }
    const arcface = await load(buildArcFaceStandIn());
    const embed = async (seed: number) =>
      (await arcface.run({ "input.1": new Tensor("float32", fixedMatrix(1, 3 * 112 * 112, seed), [1, 3, 112, 112]) }))[
        "683"
      ]?.data as Float32Array;
    const [a, b] = [await embed(7), await embed(8)];
    expect(a.length).toBe(512);
    expect(a).not.toEqual(b);
  });

  it("the demo pair shipped in models/ is what the script builds (re-run it after changing a builder)", () => {
    const shipped = (f: string) => fs.readFileSync(path.join(DEMO_SWAP_MODELS_DIR, f));
    expect(Buffer.from(buildPaintingSwapper()).equals(shipped("demo-inswapper.onnx"))).toBe(true);
    expect(Buffer.from(buildArcFaceStandIn()).equals(shipped("demo-arcface.onnx"))).toBe(true);
  });
});
