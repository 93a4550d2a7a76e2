import type { InferenceSession } from "onnxruntime-node";
import { BadInputError } from "../../errors.ts";
import { isMultiSpeaker, type VoiceConfig } from "./voice-config.ts";

/** Which session input/output plays which role in a Piper voice (read from the model). */
export interface PiperBinding {
  /** int64 [1, N]: phoneme ids. */
  input: string;
  /** int64 [1]: N. */
  inputLengths: string;
  /** float32 [3]: noise_scale, length_scale, noise_w. */
  scales: string;
  /** int64 [1]: speaker id, multi-speaker voices only. */
  sid?: string;
  /** float32 [1, 1, T] or [1, T]: audio in [-1, 1] at the config's sample rate. */
  output: string;
}

type Metadata = Pick<InferenceSession, "inputMetadata" | "outputMetadata">;
type Value = { name: string; type?: string; shape?: readonly (number | string)[] };

const SIGNATURE =
  "inputs input int64 [1,N], input_lengths int64 [1], scales float32 [3] and, for several speakers, sid int64 [1]; " +
  "output float32 [1,1,T] or [1,T]";

/**
 * Checks a session against Piper's signature (as piper_train's ONNX export writes it) and its
 * voice config, and binds the names. The two int64 [1] inputs differ only by role, so `sid`
 * is known by its name, as Piper's programs feed it; the others are known by type and rank.
 */
export function bindPiper(session: Metadata, config: VoiceConfig, modelLabel: string): PiperBinding {
  const values = (list: Metadata["inputMetadata"]): Value[] =>
    list.map((m) => (m.isTensor ? { name: m.name, type: m.type, shape: m.shape } : { name: m.name }));
  const inputs = values(session.inputMetadata);
  const outputs = values(session.outputMetadata);
  const is = (v: Value, type: string, rank: number, fixed: (number | undefined)[] = []) =>
    v.type === type &&
    v.shape?.length === rank &&
    fixed.every((d, i) => d === undefined || typeof v.shape![i] !== "number" || v.shape![i] === d);

  const ids = inputs.filter((v) => is(v, "int64", 2, [1]));
  const int64Scalars = inputs.filter((v) => is(v, "int64", 1, [1]));
  const scales = inputs.filter((v) => is(v, "float32", 1, [3]));
  const sid = int64Scalars.find((v) => v.name === "sid");
  const lengths = int64Scalars.filter((v) => v !== sid);
  const output = outputs.filter((v) => is(v, "float32", 3, [1, 1]) || is(v, "float32", 2, [1]));
  if (ids.length !== 1 || lengths.length !== 1 || scales.length !== 1 || output.length !== 1 || inputs.length > 4) {
    throw new BadInputError(
      `${modelLabel} does not fit the piper adapter, which needs ${SIGNATURE}; ` +
        `the model has inputs ${list(inputs)} and outputs ${list(outputs)}`,
    );
  }
  if (isMultiSpeaker(config) && !sid)
    throw new BadInputError(
      `${modelLabel} does not fit its config: the config has ${config.num_speakers} speakers, ` +
        `but the model has no sid input (it is a single-speaker voice)`,
    );
  if (!isMultiSpeaker(config) && sid)
    throw new BadInputError(
      `${modelLabel} does not fit its config: the model takes a speaker id (sid), but the config has num_speakers 1`,
    );
  return {
    input: ids[0]!.name,
    inputLengths: lengths[0]!.name,
    scales: scales[0]!.name,
    ...(sid ? { sid: sid.name } : {}),
    output: output[0]!.name,
  };
}

const list = (l: Value[]) =>
  l.map((v) => `${v.name} ${v.type ?? "non-tensor"} [${v.shape?.join(",") ?? "?"}]`).join(", ") || "none";
