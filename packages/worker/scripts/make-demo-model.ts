/**
 * Writes models/demo-wav2lip.onnx: an untrained stand-in with Wav2Lip's exact signature
 * (mel [B,1,80,16] + face [B,6,96,96] -> [B,3,96,96], values in [0,1]) so the whole
 * pipeline runs offline. It returns the reference face (channels 3..5) unchanged, except
 * for a dark ellipse in the lower middle of the crop (the "mouth") that opens vertically
 * with the loudness of the first 4 mel frames (~50 ms from the video frame's start).
 * Silence (mel = -4 everywhere) opens it by exactly 0, so the face stays unchanged.
 *
 * Also writes models/demo-wav2lip.json, how the model is registered: its adapter and the
 * channel order it declares. The demo treats the three colour channels alike, so it takes
 * frames in their decoded order (rgb) rather than Wav2Lip's bgr.
 *
 * Run: node packages/worker/scripts/make-demo-model.ts [out.onnx]
 */
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import {
  encodeModel as encode,
  floatTensor,
  int64Tensor,
  intAttr as int,
  intsAttr as ints,
  node,
  tensorType,
} from "../src/onnx-schema.ts";

const SIZE = 96;
/** Mouth ellipse at full opening, in crop pixels. */
const MOUTH = { cx: 48, cy: 72, rx: 20, ry: 12 };
/** Normalized mel level (max over bands) -> opening: -2.5 (near silence) is closed, +1.5 is wide open. */
const LEVEL_CLOSED = -2.5;
const LEVEL_OPEN = 1.5;
const EDGE_SHARPNESS = 8;
const DARKEN = 0.85;

/** Per-pixel constants: the mouth opens where open^2 * across > down (an ellipse of height ry * open). */
function mouthMaps() {
  const across = new Float32Array(SIZE * SIZE);
  const down = new Float32Array(SIZE * SIZE);
  for (let y = 0; y < SIZE; y++)
    for (let x = 0; x < SIZE; x++) {
      across[y * SIZE + x] = 1 - ((x - MOUTH.cx) / MOUTH.rx) ** 2;
      down[y * SIZE + x] = ((y - MOUTH.cy) / MOUTH.ry) ** 2;
    }
  return { across, down };
}

/** The demo's graph (protobufjs plain object), for variants such as test/fixed-cost models. */
export function demoGraph() {
  const { across, down } = mouthMaps();
  return {
    name: "demo-wav2lip",
    doc_string: "Untrained demo with the Wav2Lip signature: darkens a mouth ellipse with loudness.",
    input: [
      { name: "mel", type: tensorType(["batch", 1, 80, 16]) },
      { name: "face", type: tensorType(["batch", 6, SIZE, SIZE]) },
    ],
    output: [{ name: "output", type: tensorType(["batch", 3, SIZE, SIZE]) }],
    initializer: [
      int64Tensor("ref_start", [3]),
      int64Tensor("ref_end", [6]),
      int64Tensor("channel_axis", [1]),
      int64Tensor("recent_start", [0]),
      int64Tensor("recent_end", [4]),
      int64Tensor("time_axis", [3]),
      floatTensor("level_offset", [], [-LEVEL_CLOSED]),
      floatTensor("level_scale", [], [1 / (LEVEL_OPEN - LEVEL_CLOSED)]),
      floatTensor("zero", [], [0]),
      floatTensor("one", [], [1]),
      floatTensor("mouth_across", [1, 1, SIZE, SIZE], across),
      floatTensor("mouth_down", [1, 1, SIZE, SIZE], down),
      floatTensor("edge_sharpness", [], [EDGE_SHARPNESS]),
      floatTensor("darken", [], [-DARKEN]),
    ],
    node: [
      node("Slice", ["face", "ref_start", "ref_end", "channel_axis"], "reference"),
      node("ReduceMax", ["mel"], "band_max", [ints("axes", [2]), int("keepdims", 1)]),
      node("Slice", ["band_max", "recent_start", "recent_end", "time_axis"], "recent"),
      node("ReduceMean", ["recent"], "level", [ints("axes", [3]), int("keepdims", 1)]),
      node("Add", ["level", "level_offset"], "level_shifted"),
      node("Mul", ["level_shifted", "level_scale"], "level_scaled"),
      node("Clip", ["level_scaled", "zero", "one"], "opening"),
      node("Mul", ["opening", "opening"], "opening_sq"),
      node("Mul", ["opening_sq", "mouth_across"], "reach"),
      node("Sub", ["reach", "mouth_down"], "inside"),
      node("Mul", ["inside", "edge_sharpness"], "inside_sharp"),
      node("Clip", ["inside_sharp", "zero", "one"], "mouth"),
      node("Mul", ["mouth", "darken"], "shade"),
      node("Add", ["shade", "one"], "gain"),
      node("Mul", ["reference", "gain"], "output"),
    ],
  };
}

export type OnnxGraph = ReturnType<typeof demoGraph>;

export function buildDemoModel(): Uint8Array {
  return encodeModel(demoGraph());
}

/** Serializes a graph as the demo (and its test variants) are written. */
export function encodeModel(graph: object): Uint8Array {
  return encode(graph, {
    producer: "mediaq make-demo-model",
    doc: "mediaq demo model (not trained); see packages/worker/scripts/make-demo-model.ts",
  });
}

const here = path.dirname(fileURLToPath(import.meta.url));
export const DEMO_MODEL_PATH = path.join(here, "..", "models", "demo-wav2lip.onnx");
/** The demo's registration (POST /v1/models query): read by `mediaq dev` and `mediaq demo`. */
export const DEMO_REGISTRATION_PATH = path.join(here, "..", "models", "demo-wav2lip.json");
export const DEMO_REGISTRATION = { adapter: "wav2lip", channels: "rgb" } as const;
export const demoRegistrationJson = () => `${JSON.stringify(DEMO_REGISTRATION, null, 2)}\n`;

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const out = process.argv[2] ?? DEMO_MODEL_PATH;
  fs.mkdirSync(path.dirname(out), { recursive: true });
  const bytes = buildDemoModel();
  fs.writeFileSync(out, bytes);
  console.log(`wrote ${out} (${bytes.length} bytes)`);
  if (out === DEMO_MODEL_PATH) fs.writeFileSync(DEMO_REGISTRATION_PATH, demoRegistrationJson());
}
