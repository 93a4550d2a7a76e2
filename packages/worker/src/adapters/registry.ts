/**
 * The adapters a worker runs: one line each (docs/architecture.md#adapters). Their params and
 * inputs are listed in shared's ADAPTERS; helper models (face detectors) are not runnable here.
 */
import {
  ADAPTERS,
  type AdapterName,
  type AdapterParams,
  checkInputs,
  type FaceTrackRecord,
  type InferenceJob,
  type Logger,
} from "@mediaq/shared";
import { BadInputError } from "../errors.ts";
import type { Scratch } from "../scratch.ts";
import type { Adapter } from "./adapter.ts";
import { inswapperAdapter } from "./inswapper/index.ts";
import { piperAdapter } from "./piper/index.ts";
import { wav2lipAdapter } from "./wav2lip/index.ts";

export const REGISTRY: { readonly [A in AdapterName]?: Adapter<A> } = {
  wav2lip: wav2lipAdapter,
  inswapper: inswapperAdapter,
  piper: piperAdapter,
};

export interface ResolvedAdapter {
  adapter: Adapter;
  params: AdapterParams<AdapterName>;
}

/** One run of a resolved adapter, an item's or a segment's: its face track, scratch directory, cancel signal and log. */
export interface AdapterRun extends ResolvedAdapter {
  track: FaceTrackRecord | undefined;
  scratch: Scratch;
  signal: AbortSignal;
  log: Logger;
}

/** A job's adapter and its params (defaults applied); BadInputError for what it cannot run. */
export function resolveAdapter(data: InferenceJob): ResolvedAdapter {
  const name = data.model.adapter;
  const adapter = REGISTRY[name] as Adapter | undefined;
  if (!adapter) throw new BadInputError(`the ${name} adapter does not run items`);
  const inputs = checkInputs(name, data.inputs);
  if (!inputs.ok) throw new BadInputError(inputs.message);
  const params = ADAPTERS[name].params.safeParse(data.params);
  if (!params.success)
    throw new BadInputError(
      `invalid ${name} params: ${params.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`,
    );
  return { adapter, params: params.data as AdapterParams<AdapterName> };
}
