import type { Adapter } from "../adapter.ts";
import { bindPiperSignature } from "@mediaq/shared";
import { BadInputError } from "../../errors.ts";
import { preparePiper } from "./job.ts";
import { drawWaveform } from "./waveform.ts";

/** Text to speech with a Piper voice: a WAV of an item's text (docs/architecture.md#adapters). */
export const piperAdapter: Adapter<"piper"> = {
  name: "piper",
  // Without the config only the signature can be checked (a single-speaker reading allows no
  // sid; the job binds again with the voice's config).
  bind: (model, label) => {
    const values = (l: typeof model.inputMetadata) =>
      l.map((m) => (m.isTensor ? { name: m.name, type: m.type, shape: m.shape } : { name: m.name }));
    const inputs = values(model.inputMetadata);
    const hasSid = inputs.some((v) => v.name === "sid");
    const bound = bindPiperSignature(
      { inputs, outputs: values(model.outputMetadata) },
      { num_speakers: hasSid ? 2 : 1 },
      label,
    );
    if (!bound.ok) throw new BadInputError(bound.message);
    return bound.binding;
  },
  output: () => ({
    kind: "audio",
    file: "output.wav",
    extension: ".wav",
    contentType: "audio/wav",
    picture: drawWaveform,
  }),
  prepare: preparePiper,
};
