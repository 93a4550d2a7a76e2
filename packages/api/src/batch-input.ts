import {
  type AdapterName,
  type BatchItem,
  type ChannelOrder,
  canonicalJson,
  checkInputs,
  DEFAULT_FACE_DETECTOR,
  type ItemInput,
  normalizeParams,
  speechStageFor,
  toBatchItem,
} from "@mediaq/shared";
import type { z } from "zod";
import { badRequest, listSome } from "./problem.ts";

/** Turning the items of a request into batch items, and the errors a request can have. */

export interface ResolvedModel {
  sha256: string;
  adapter: AdapterName;
  channels: ChannelOrder;
  /** The config blob registered with the model (a Piper voice's .onnx.json). */
  config?: string;
  tag?: string;
}

/** Names given more than once in the list, once each. */
export function duplicateNames(names: string[]): string[] {
  const seen = new Set<string>();
  const dups = new Set<string>();
  for (const n of names) (seen.has(n) ? dups : seen).add(n);
  return [...dups];
}

/**
 * Applies the adapter's defaults to each item's params (batch params, then the item's own
 * over them) and computes its job key. Every bad item is reported, each with its reason.
 */
export function prepareItems(o: {
  scope: string;
  model: ResolvedModel;
  batchParams: Record<string, unknown>;
  items: ItemInput[];
  /** The voices params.voice names (tag or sha256 as given -> the piper model), resolved by the caller. */
  voices?: ReadonlyMap<string, ResolvedModel>;
}): { items: BatchItem[]; errors: string[] } {
  const items: BatchItem[] = [];
  const errors: string[] = [];
  const scope = {
    scope: o.scope,
    modelSha256: o.model.sha256,
    adapter: o.model.adapter,
    channels: o.model.channels,
    config: o.model.config,
  };
  // Most items share their params: each distinct set is validated once.
  const normalized = new Map<string, Record<string, unknown>>();
  const normalize = (params: Record<string, unknown>) => {
    const key = canonicalJson(params);
    let done = normalized.get(key);
    if (!done) {
      done = normalizeParams(o.model.adapter, params);
      normalized.set(key, done);
    }
    return done;
  };
  o.items.forEach((input, i) => {
    // Inputs are per adapter: wav2lip takes {video, audio} (shared's ADAPTERS).
    const inputs = checkInputs(o.model.adapter, input.inputs);
    if (!inputs.ok) {
      errors.push(`items[${i}] "${input.name}": inputs: ${inputs.message}`);
      return;
    }
    try {
      const params = normalize({ ...o.batchParams, ...input.params });
      // Script to video is a lip-sync item's: a speech item's text is what it speaks.
      const script = o.model.adapter === "wav2lip" ? scriptOf(o, input.inputs, params) : { params };
      if ("error" in script) {
        errors.push(`items[${i}] "${input.name}": ${script.error}`);
        return;
      }
      items.push(toBatchItem(scope, input, script.params, script.speech));
    } catch (err) {
      const issues = (err as z.ZodError).issues ?? [{ path: [], message: String(err) }];
      for (const issue of issues) {
        const where = ["params", ...issue.path.map(String)].join(".");
        errors.push(`items[${i}] "${input.name}": ${where}: ${issue.message}`);
      }
    }
  });
  return { items, errors };
}

/**
 * A script-to-video item (docs/architecture.md#script-to-video): `text` with params.voice,
 * recorded as the voice's sha256, and the speech stage it runs first. Other items as they are.
 */
function scriptOf(
  o: { scope: string; voices?: ReadonlyMap<string, ResolvedModel> },
  inputs: Record<string, string>,
  params: Record<string, unknown>,
): { params: Record<string, unknown>; speech?: ReturnType<typeof speechStageFor> } | { error: string } {
  const voiceRef = params.voice;
  if (inputs.text === undefined) {
    if (voiceRef !== undefined) return { error: "params.voice: is for items with a text input (script to video)" };
    return { params };
  }
  if (typeof voiceRef !== "string")
    return { error: "params.voice: a text input needs a voice (a piper model's tag or sha256)" };
  const voice = o.voices?.get(voiceRef);
  if (!voice) return { error: `params.voice: no voice "${voiceRef}"` };
  return {
    params: { ...params, voice: voice.sha256 },
    speech: speechStageFor({ scope: o.scope, text: inputs.text, voice }),
  };
}

/** The voices items name in params.voice (with the batch's params), once each. */
export function voiceRefs(batchParams: Record<string, unknown>, items: ItemInput[]): string[] {
  const refs = new Set<string>();
  for (const item of items) {
    const ref = (item.params as Record<string, unknown> | undefined)?.voice ?? batchParams.voice;
    if (typeof ref === "string") refs.add(ref);
  }
  return [...refs];
}

/** Throws a problem listing every item whose params or inputs are wrong. */
export function assertNoItemErrors(errors: string[]): void {
  if (errors.length === 0) return;
  throw badRequest("invalid-params", `Some items have invalid params or inputs: ${listSome(errors, 10)}`, {
    errors: errors.slice(0, 1000),
  });
}

/** The blobs an item reads: its inputs, a face detector other than the one shipped, a face swap's recognizer. */
export function blobsUsed(item: BatchItem): string[] {
  const { detector, recognizer } = item.params;
  const own = typeof detector === "string" && detector !== DEFAULT_FACE_DETECTOR.sha256;
  return [
    ...Object.values(item.inputs),
    ...(own ? [detector] : []),
    ...(typeof recognizer === "string" ? [recognizer] : []),
  ];
}

/** Throws a problem for names given twice in the request. */
export function assertUniqueNames(items: ItemInput[]): void {
  const dups = duplicateNames(items.map((i) => i.name));
  if (dups.length > 0)
    throw badRequest("duplicate-names", `Item names must be unique in a batch; repeated: ${listSome(dups)}.`, {
      duplicates: dups,
    });
}

/** The problem for names the batch already has. */
export function namesTaken(taken: string[]) {
  return badRequest("duplicate-names", `The batch already has items named: ${listSome(taken)}.`, {
    duplicates: taken,
  });
}
