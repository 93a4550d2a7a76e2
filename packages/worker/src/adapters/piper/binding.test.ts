import type { InferenceSession } from "onnxruntime-node";
import { describe, expect, it } from "vitest";
import { BadInputError } from "../../errors.ts";
import { bindPiper } from "./binding.ts";
import { parseVoiceConfig } from "./voice-config.ts";
import { voiceConfigFor } from "./voice-model.ts";

const tensor = (name: string, type: string, shape: (number | string)[]) =>
  ({ name, isTensor: true, type, shape }) as InferenceSession.ValueMetadata;
const piperInputs = [
  tensor("input", "int64", ["batch_size", "phonemes"]),
  tensor("input_lengths", "int64", ["batch_size"]),
  tensor("scales", "float32", [3]),
];
const sid = tensor("sid", "int64", ["batch_size"]);
const output = tensor("output", "float32", ["batch_size", 1, "time"]);
const single = parseVoiceConfig(JSON.stringify(voiceConfigFor({ sampleRate: 22050 })));
const multi = parseVoiceConfig(JSON.stringify(voiceConfigFor({ sampleRate: 22050, speakers: ["a", "b"] })));
const session = (inputs: InferenceSession.ValueMetadata[], outputs = [output]) => ({
  inputMetadata: inputs,
  outputMetadata: outputs,
});

describe("bindPiper", () => {
  it("binds a single-speaker voice as piper_train exports it (symbolic batch dimensions)", () => {
    expect(bindPiper(session(piperInputs), single, "voice")).toEqual({
      input: "input",
      inputLengths: "input_lengths",
      scales: "scales",
      output: "output",
    });
  });

  it("binds sid for a multi-speaker voice, in any input order, and a [1,T] output", () => {
    const reordered = [sid, piperInputs[2]!, piperInputs[1]!, piperInputs[0]!];
    expect(bindPiper(session(reordered, [tensor("wav", "float32", [1, "time"])]), multi, "voice")).toEqual({
      input: "input",
      inputLengths: "input_lengths",
      scales: "scales",
      sid: "sid",
      output: "wav",
    });
  });

  it.each([
    [
      "a multi-speaker config on a model without sid",
      session(piperInputs),
      multi,
      /config has 2 speakers, but the model has no sid input/,
    ],
    [
      "a single-speaker config on a model with sid",
      session([...piperInputs, sid]),
      single,
      /takes a speaker id \(sid\), but the config has num_speakers 1/,
    ],
    [
      "a model of another signature",
      session([tensor("mel", "float32", ["batch", 1, 80, 16])], [tensor("face", "float32", ["batch", 3, 96, 96])]),
      single,
      /does not fit the piper adapter, which needs inputs input int64 \[1,N\].*; the model has inputs mel float32 \[batch,1,80,16\] and outputs face float32/,
    ],
    [
      "float ids",
      session([tensor("input", "float32", [1, "n"]), ...piperInputs.slice(1)]),
      single,
      /does not fit the piper adapter/,
    ],
    [
      "scales of another size",
      session([...piperInputs.slice(0, 2), tensor("scales", "float32", [2])]),
      single,
      /does not fit the piper adapter/,
    ],
  ])("refuses %s", (_, s, config, message) => {
    expect(() => bindPiper(s, config, "voice")).toThrow(BadInputError);
    expect(() => bindPiper(s, config, "voice")).toThrow(message);
  });
});
