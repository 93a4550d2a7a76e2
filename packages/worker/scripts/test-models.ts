/**
 * ONNX models for tests and benchmarks, built with the same protobuf schema as the demo:
 * - fixed-cost: the demo model plus a stack of MatMul+Tanh layers whose result is multiplied
 *   by zero and added to the output. Output equals the demo's; each session.run costs about
 *   layers * 2 * size^3 flops, independent of the batch, so inference time is predictable.
 * - mismatched: a valid ONNX model whose signature is not Wav2Lip's (image in, image out).
 * - channel probe: Wav2Lip's signature; returns the reference face's first tensor channel
 *   in all three output channels, so the output shows which colour reached channel 0.
 */
import { InferenceSession, Tensor } from "onnxruntime-node";
import { floatTensor, int64Tensor, node, tensorType } from "../src/onnx-schema.ts";
import { demoGraph, encodeModel } from "./make-demo-model.ts";

export function buildFixedCostModel(o: { size: number; layers: number }): Uint8Array {
  const graph = demoGraph();
  const last = graph.node.find((n) => n.output[0] === "output");
  if (!last) throw new Error("demo graph has no node writing 'output'");
  last.output = ["demo_output"];
  last.name = "demo_output";
  // A deterministic, well-conditioned weight: Tanh keeps every layer bounded.
  const w = new Float32Array(o.size * o.size);
  for (let i = 0; i < w.length; i++) w[i] = (((i * 2654435761) % 1000) / 1000 - 0.5) / Math.sqrt(o.size);
  graph.initializer.push(
    floatTensor("cost_weight", [o.size, o.size], w) as never,
    int64Tensor("cost_shape", [o.size, o.size]) as never,
  );
  // The stack depends on the input (mel), so ONNX Runtime cannot fold it away at load time.
  const nodes = [
    node("ReduceMean", ["mel"], "cost_seed", [{ name: "keepdims", i: 0, type: 2 }]),
    node("Expand", ["cost_seed", "cost_shape"], "cost_0"),
  ];
  for (let l = 0; l < o.layers; l++) {
    nodes.push(node("MatMul", [`cost_${l}`, "cost_weight"], `cost_mm_${l}`));
    nodes.push(node("Tanh", [`cost_mm_${l}`], `cost_${l + 1}`));
  }
  nodes.push(
    node("ReduceMean", [`cost_${o.layers}`], "cost_mean", [{ name: "keepdims", i: 0, type: 2 }]),
    node("Mul", ["cost_mean", "zero"], "cost_nothing"),
    node("Add", ["demo_output", "cost_nothing"], "output"),
  );
  graph.node.push(...(nodes as never[]));
  graph.name = `fixed-cost-wav2lip-${o.size}x${o.layers}`;
  return encodeModel(graph);
}

/** A valid ONNX model with an image signature ([B,3,64,64] -> [B,3,64,64]), not Wav2Lip's. */
export function buildMismatchedModel(): Uint8Array {
  return encodeModel({
    name: "not-wav2lip",
    input: [{ name: "image", type: tensorType(["batch", 3, 64, 64]) }],
    output: [{ name: "restored", type: tensorType(["batch", 3, 64, 64]) }],
    node: [node("Identity", ["image"], "restored")],
  });
}

/** Wav2Lip's signature; output[b, c] = face[b, 3] for c = 0..2 (the mel input is unused). */
export function buildChannelProbeModel(): Uint8Array {
  const graph = demoGraph();
  graph.name = "channel-probe";
  graph.initializer = [
    int64Tensor("first_start", [3]),
    int64Tensor("first_end", [4]),
    int64Tensor("channel_axis", [1]),
  ] as never[];
  graph.node = [
    node("Slice", ["face", "first_start", "first_end", "channel_axis"], "first_channel"),
    node("Concat", ["first_channel", "first_channel", "first_channel"], "output", [{ name: "axis", i: 1, type: 2 }]),
  ] as never[];
  return encodeModel(graph);
}

/**
 * A fixed-cost model whose session.run takes about targetMs on this machine when it is idle
 * (at least that under load): times a small stack, then scales the layer count (machines
 * differ by several times in speed).
 */
export async function calibratedFixedCostModel(targetMs: number, size = 256): Promise<Uint8Array> {
  const probeLayers = 20;
  const session = await InferenceSession.create(buildFixedCostModel({ size, layers: probeLayers }));
  const feeds = {
    mel: new Tensor("float32", new Float32Array(80 * 16).fill(0.5), [1, 1, 80, 16]),
    face: new Tensor("float32", new Float32Array(6 * 96 * 96).fill(0.5), [1, 6, 96, 96]),
  };
  await session.run(feeds); // warm-up
  // The fastest of several runs: other load on the machine only makes a run slower, and a
  // run timed during a burst of it would make the model too cheap once the burst is over.
  let fastest = Number.POSITIVE_INFINITY;
  for (let i = 0; i < 7; i++) {
    const started = performance.now();
    await session.run(feeds);
    fastest = Math.min(fastest, performance.now() - started);
  }
  const perLayer = fastest / probeLayers;
  await session.release();
  return buildFixedCostModel({ size, layers: Math.max(1, Math.round(targetMs / perLayer)) });
}
