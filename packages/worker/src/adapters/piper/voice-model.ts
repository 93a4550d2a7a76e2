/**
 * Piper voices built in code, for tests, benchmarks and `mediaq demo` (no weights from any
 * hub): Piper's exact ONNX signature (input int64 [1,N], input_lengths int64 [1], scales
 * float32 [3], sid int64 [1] when multi-speaker; output float32 [1,1,T]) and config layout.
 * Each phoneme id becomes a block of floor(secondsPerId * sample_rate * length_scale) (+ sid)
 * samples, so the id sequence that reached the model can be read back from the audio:
 * - "level": the block holds the constant (id + 1) / 256;
 * - "tone": a sine at 180 + 12 * id Hz (the pad, id 0, is silent), audible for the demo.
 * An optional per-id cost (MatMul + Tanh layers, multiplied by zero) makes session.run take as
 * long as a real voice's for benchmarks.
 */
import { encodeModel, floatTensor, int64Tensor, intAttr, node, tensorType, DataType } from "../../onnx-schema.ts";

export interface VoiceModelOptions {
  sampleRate: number;
  secondsPerId: number;
  waveform: "level" | "tone";
  /** Above 1 adds the sid input; the block of each id grows by sid samples. */
  speakers?: number;
  cost?: { size: number; layers: number };
}

export function buildVoiceModel(o: VoiceModelOptions): Uint8Array {
  const multi = (o.speakers ?? 1) > 1;
  const initializer: object[] = [
    floatTensor("one_f", [], [1]),
    floatTensor("samples_per_id", [1], [o.secondsPerId * o.sampleRate]),
    int64Tensor("column_shape", [-1, 1]),
    int64Tensor("audio_shape", [1, 1, -1]),
    int64Tensor("one_i", [1]),
    int64Tensor("length_start", [1]),
    int64Tensor("length_end", [2]),
    int64Tensor("axis_0", [0]),
  ];
  const nodes: object[] = [
    node("Cast", ["input"], "ids_f", [intAttr("to", DataType.FLOAT)]),
    node("Reshape", ["ids_f", "column_shape"], "ids_col"),
    node("Slice", ["scales", "length_start", "length_end", "axis_0"], "length_scale"),
    node("Mul", ["length_scale", "samples_per_id"], "block_f"),
    node("Floor", ["block_f"], "block_floor"),
    node("Cast", ["block_floor"], multi ? "block_base" : "block", [intAttr("to", DataType.INT64)]),
    ...(multi ? [node("Add", ["block_base", "sid"], "block")] : []),
    node("Concat", ["one_i", "block"], "block_shape", [intAttr("axis", 0)]),
  ];
  if (o.waveform === "level") {
    initializer.push(floatTensor("level_step", [], [1 / 256]));
    nodes.push(
      node("Add", ["ids_col", "one_f"], "ids_plus_one"),
      node("Mul", ["ids_plus_one", "level_step"], "level_col"),
      node("Expand", ["level_col", "block_shape"], "blocks"),
    );
  } else {
    initializer.push(
      floatTensor("zero_f", [], [0]),
      floatTensor("tone_base", [], [(180 * 2 * Math.PI) / o.sampleRate]),
      floatTensor("tone_step", [], [(12 * 2 * Math.PI) / o.sampleRate]),
      floatTensor("amplitude", [], [0.5]),
    );
    nodes.push(
      node("Squeeze", ["block", "axis_0"], "block_scalar"),
      node("Cast", ["block_scalar"], "block_scalar_f", [intAttr("to", DataType.FLOAT)]),
      node("Range", ["zero_f", "block_scalar_f", "one_f"], "t"),
      node("Unsqueeze", ["t", "axis_0"], "t_row"),
      node("Mul", ["ids_col", "tone_step"], "tone_rise"),
      node("Add", ["tone_rise", "tone_base"], "radians_per_sample"),
      node("Mul", ["radians_per_sample", "t_row"], "phase"),
      node("Sin", ["phase"], "sine"),
      node("Min", ["ids_col", "one_f"], "voiced"), // the pad (id 0) is silent
      node("Mul", ["voiced", "amplitude"], "gain"),
      node("Mul", ["sine", "gain"], "blocks"),
    );
  }
  if (o.cost) {
    const { size, layers } = o.cost;
    const w = new Float32Array(size * size);
    for (let i = 0; i < w.length; i++) w[i] = (((i * 2654435761) % 1000) / 1000 - 0.5) / Math.sqrt(size);
    initializer.push(floatTensor("cost_weight", [size, size], w), int64Tensor("cost_shape", [1, size]));
    if (o.waveform === "level") initializer.push(floatTensor("zero_f", [], [0]));
    // Depends on the ids, so ONNX Runtime cannot fold it away; costs N * layers * 2 * size^2 flops.
    nodes.push(node("Expand", ["ids_col", "cost_shape"], "cost_0"));
    for (let l = 0; l < layers; l++)
      nodes.push(
        node("MatMul", [`cost_${l}`, "cost_weight"], `cost_mm_${l}`),
        node("Tanh", [`cost_mm_${l}`], `cost_${l + 1}`),
      );
    nodes.push(
      node("ReduceMean", [`cost_${layers}`], "cost_mean", [intAttr("keepdims", 0)]),
      node("Mul", ["cost_mean", "zero_f"], "cost_nothing"),
      node("Reshape", ["blocks", "audio_shape"], "voice_audio"),
      node("Add", ["voice_audio", "cost_nothing"], "output"),
    );
  } else nodes.push(node("Reshape", ["blocks", "audio_shape"], "output"));

  const int64 = DataType.INT64;
  return encodeModel(
    {
      name: `piper-${o.waveform}-voice`,
      input: [
        { name: "input", type: tensorType([1, "phonemes"], int64) },
        { name: "input_lengths", type: tensorType([1], int64) },
        { name: "scales", type: tensorType([3]) },
        ...(multi ? [{ name: "sid", type: tensorType([1], int64) }] : []),
      ],
      output: [{ name: "output", type: tensorType([1, 1, "time"]) }],
      initializer,
      node: nodes,
    },
    { producer: "mediaq piper voice-model", doc: "mediaq test voice (not trained); see adapters/piper/voice-model.ts" },
  );
}

/**
 * Piper's phoneme alphabet in id order (the phoneme_id_map of its espeak-ng voices, ids 0..160):
 * pad, BOS, EOS, space, punctuation, then IPA letters, tones and diacritics.
 */
export const PIPER_SYMBOLS = [
  ..."_^$ !'(),-.:;?abcdefhijklmnopqrstuvwxyzæçðøħŋœǀǁǂǃɐɑɒɓɔɕɖɗɘəɚɛɜɞɟɠɡɢɣɤɥɦɧɨɪɫɬɭɮɯɰɱɲɳɴɵɶɸɹɺɻɽɾʀʁʂʃʄʈʉʊʋʌʍʎʏʐʑʒʔʕʘʙʛʜʝʟʡʢʲˈˌːˑ˞βθχᵻⱱ0123456789",
  "\u0327",
  "\u0303",
  "\u032a",
  "\u032f",
  "\u0329",
  ...'ʰˤε↓#"↑',
  "\u033a",
  "\u033b",
  ..."gʦX",
  "\u031d",
  "\u030a",
  ..."ɝʷ",
];

/** A voice's `.onnx.json` as Piper lays it out, for a voice built by buildVoiceModel. */
export function voiceConfigFor(o: {
  sampleRate: number;
  espeakVoice?: string;
  speakers?: string[];
  inference?: { noise_scale: number; length_scale: number; noise_w: number };
}) {
  const speakers = o.speakers ?? [];
  return {
    audio: { sample_rate: o.sampleRate, quality: "x_low" },
    espeak: { voice: o.espeakVoice ?? "en-us" },
    inference: o.inference ?? { noise_scale: 0.667, length_scale: 1, noise_w: 0.8 },
    phoneme_type: "espeak",
    phoneme_map: {},
    phoneme_id_map: Object.fromEntries(PIPER_SYMBOLS.map((s, id) => [s, [id]])),
    num_symbols: 256,
    num_speakers: Math.max(1, speakers.length),
    speaker_id_map: Object.fromEntries(speakers.map((s, id) => [s, id])),
    piper_version: "1.0.0",
    language: { code: "en_US", family: "en", region: "US", name_native: "English", name_english: "English" },
    dataset: "mediaq-test-voice",
  };
}

/** The demo voice shipped as models/demo-voice.onnx (scripts/make-demo-voice.ts): 40 ms tones per id. */
export const DEMO_VOICE: VoiceModelOptions = { sampleRate: 16000, secondsPerId: 0.04, waveform: "tone" };
