import { bindPiperSignature, type PiperBinding, type SignatureValue, type VoiceConfig } from "@mediaq/shared";
import type { InferenceSession } from "onnxruntime-node";
import { BadInputError } from "../../errors.ts";

export type { PiperBinding } from "@mediaq/shared";

type Metadata = Pick<InferenceSession, "inputMetadata" | "outputMetadata">;

const values = (list: Metadata["inputMetadata"]): SignatureValue[] =>
  list.map((m) => (m.isTensor ? { name: m.name, type: m.type, shape: m.shape } : { name: m.name }));

/** Checks a loaded voice against Piper's signature and its config (shared's bindPiperSignature) and binds the names. */
export function bindPiper(session: Metadata, config: VoiceConfig, modelLabel: string): PiperBinding {
  const bound = bindPiperSignature(
    { inputs: values(session.inputMetadata), outputs: values(session.outputMetadata) },
    config,
    modelLabel,
  );
  if (!bound.ok) throw new BadInputError(bound.message);
  return bound.binding;
}
