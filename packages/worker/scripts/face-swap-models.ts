/**
 * Face-swap models built in code with the exact public signatures (src/adapters/inswapper,
 * src/adapters/arcface), for tests, benchmarks and the demo:
 * - identity swapper: inswapper-128's signature; output = target (the crop comes back as it went).
 * - painting swapper: inswapper-128's signature; every pixel of the output is one colour,
 *   sigmoid(source @ PAINT_PROJECTION), so the output shows the value that reached `source`.
 * - arcface stand-in: ArcFace's signature; the embedding is a fixed projection of the crop's
 *   8x8 block means, so it depends on the image (two faces give two embeddings).
 * Each swapper carries a 512x512 emap as its graph's last initializer, as inswapper_128.onnx does.
 *
 * Run: node packages/worker/scripts/face-swap-models.ts [dir]  (writes the demo pair there;
 * default: models/, where `mediaq demo --swap` finds it)
 */
import fs from "node:fs";
import path from "node:path";
import {
  encodeModel,
  floatTensor,
  int64Tensor,
  intAttr as int,
  intsAttr as ints,
  node,
  tensorType,
} from "../src/onnx-schema.ts";

const META = { producer: "mediaq test models", doc: "face-swap stand-in with a public signature (not trained)" };
const E = 512;
const S = 128;
const A = 112;

/** A deterministic pseudo-random matrix (values in [-0.5, 0.5) * scale). */
export function fixedMatrix(rows: number, cols: number, seed: number, scale = 1): Float32Array {
  const m = new Float32Array(rows * cols);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < m.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    m[i] = ((x >>> 0) / 2 ** 32 - 0.5) * scale;
  }
  return m;
}

/** The emap of the test swappers: near orthonormal columns (scale ~1/sqrt(512) * sqrt(12)). */
export const TEST_EMAP = fixedMatrix(E, E, 20, Math.sqrt(12 / E));
/** The painting swapper's colour: sigmoid(source @ PAINT_PROJECTION) per rgb channel. */
export const PAINT_PROJECTION = fixedMatrix(E, 3, 21, 8);

const swapperIo = {
  input: [
    { name: "target", type: tensorType([1, 3, S, S]) },
    { name: "source", type: tensorType([1, E]) },
  ],
  output: [{ name: "output", type: tensorType([1, 3, S, S]) }],
};

/** inswapper-128's signature; output = target. */
export function buildIdentitySwapper(): Uint8Array {
  return encodeModel(
    {
      name: "identity-swapper",
      ...swapperIo,
      initializer: [floatTensor("emap", [E, E], TEST_EMAP)],
      node: [node("Identity", ["target"], "output")],
    },
    META,
  );
}

/** The painting swapper's colour for a `source` value (what the model computes), in [0,1]. */
export function paintColour(source: Float32Array): [number, number, number] {
  const out: number[] = [0, 0, 0];
  for (let c = 0; c < 3; c++) {
    let sum = 0;
    for (let j = 0; j < E; j++) sum += (source[j] as number) * (PAINT_PROJECTION[j * 3 + c] as number);
    out[c] = 1 / (1 + Math.exp(-sum));
  }
  return out as [number, number, number];
}

/** inswapper-128's signature; every output pixel = sigmoid(source @ PAINT_PROJECTION). */
export function buildPaintingSwapper(): Uint8Array {
  return encodeModel(
    {
      name: "painting-swapper",
      ...swapperIo,
      initializer: [
        floatTensor("projection", [E, 3], PAINT_PROJECTION),
        int64Tensor("colour_shape", [1, 3, 1, 1]),
        floatTensor("zero", [], [0]),
        floatTensor("emap", [E, E], TEST_EMAP),
      ],
      node: [
        node("MatMul", ["source", "projection"], "logits"),
        node("Sigmoid", ["logits"], "colour_flat"),
        node("Reshape", ["colour_flat", "colour_shape"], "colour"),
        // target * 0 + colour: the target's shape, one colour everywhere.
        node("Mul", ["target", "zero"], "blank"),
        node("Add", ["blank", "colour"], "output"),
      ],
    },
    META,
  );
}

/** ArcFace's signature; embedding = (8x8 block means of the crop, flattened) @ a fixed [192,512]. */
export function buildArcFaceStandIn(): Uint8Array {
  const blocks = 3 * 8 * 8;
  return encodeModel(
    {
      name: "arcface-stand-in",
      input: [{ name: "input.1", type: tensorType([1, 3, A, A]) }],
      output: [{ name: "683", type: tensorType([1, E]) }],
      initializer: [floatTensor("projection", [blocks, E], fixedMatrix(blocks, E, 22))],
      node: [
        node("AveragePool", ["input.1"], "block_means", [ints("kernel_shape", [14, 14]), ints("strides", [14, 14])]),
        node("Flatten", ["block_means"], "features", [int("axis", 1)]),
        node("MatMul", ["features", "projection"], "683"),
      ],
    },
    META,
  );
}

/** A swapper whose crop is 256, not 128: valid ONNX that fits neither face-swap adapter. */
export function buildWrongSwapper(): Uint8Array {
  return encodeModel(
    {
      name: "wrong-swapper",
      input: [
        { name: "target", type: tensorType([1, 3, 256, 256]) },
        { name: "source", type: tensorType([1, E]) },
      ],
      output: [{ name: "output", type: tensorType([1, 3, 256, 256]) }],
      initializer: [floatTensor("emap", [E, E], TEST_EMAP)],
      node: [node("Identity", ["target"], "output")],
    },
    META,
  );
}

/** inswapper-128's signature, but its last initializer is not a 512x512 emap. */
export function buildSwapperWithoutEmap(): Uint8Array {
  return encodeModel(
    {
      name: "swapper-without-emap",
      ...swapperIo,
      initializer: [floatTensor("bias", [1], [0])],
      node: [node("Identity", ["target"], "output")],
    },
    META,
  );
}

/** Where the demo pair is shipped (package exports `models/demo-inswapper.onnx`, `models/demo-arcface.onnx`). */
export const DEMO_SWAP_MODELS_DIR = path.join(import.meta.dirname, "..", "models");

/** The demo pair: the painting swapper and the arcface stand-in, for `mediaq demo --swap`. */
export function writeDemoSwapModels(dir: string): { swapper: string; recognizer: string } {
  fs.mkdirSync(dir, { recursive: true });
  const swapper = path.join(dir, "demo-inswapper.onnx");
  const recognizer = path.join(dir, "demo-arcface.onnx");
  fs.writeFileSync(swapper, buildPaintingSwapper());
  fs.writeFileSync(recognizer, buildArcFaceStandIn());
  return { swapper, recognizer };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(writeDemoSwapModels(process.argv[2] ?? DEMO_SWAP_MODELS_DIR));
}
