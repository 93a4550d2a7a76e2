import { z } from "zod";
import { canonicalJson, SHA256_HEX, sha256Hex } from "./hashing.ts";

/** Bump when a change to the worker would change outputs: every job key changes with it. */
export const PIPELINE_VERSION = "1";

export const QUEUES = {
  inference: "inference",
  package: "package",
} as const;

export const sha256Schema = z.string().regex(SHA256_HEX, "expected a lowercase hex SHA-256");

const pixel = z.number().int();
/** Parameters of the wav2lip adapter, with their defaults. */
export const wav2lipParamsSchema = z
  .object({
    /** Face box in pixels: [x, y, width, height]; null = the whole frame. */
    box: z
      .tuple([pixel.min(0), pixel.min(0), pixel.min(1), pixel.min(1)])
      .nullable()
      .default(null),
    /** Padding around the box as Wav2Lip's --pads: [top, bottom, left, right]. */
    pads: z.tuple([pixel, pixel, pixel, pixel]).default([0, 10, 0, 0]),
    /** Frames per model call. */
    batchSize: z.number().int().min(1).max(256).default(16),
  })
  .strict();

export const ADAPTERS = {
  wav2lip: wav2lipParamsSchema,
} as const;
export type AdapterName = keyof typeof ADAPTERS;
export const adapterNameSchema = z.enum(Object.keys(ADAPTERS) as [AdapterName, ...AdapterName[]]);

/** Applies an adapter's defaults; throws a ZodError for unknown or bad params. */
export function normalizeParams(adapter: AdapterName, params: unknown): Record<string, unknown> {
  return ADAPTERS[adapter].parse(params ?? {});
}

export const inputsSchema = z.object({ video: sha256Schema, audio: sha256Schema }).strict();
export type Inputs = z.infer<typeof inputsSchema>;

export interface JobKeyParts {
  /** The tenant id, or "global" when dedup scope is global. */
  scope: string;
  modelSha256: string;
  adapter: AdapterName;
  inputs: Inputs;
  /** Already normalized with normalizeParams. */
  params: Record<string, unknown>;
}

/** SHA-256 of everything that decides an item's output (docs/architecture.md#content-addressing). */
export function computeJobKey(parts: JobKeyParts): string {
  return sha256Hex(
    canonicalJson({
      pipeline: PIPELINE_VERSION,
      scope: parts.scope,
      model: parts.modelSha256,
      adapter: parts.adapter,
      inputs: parts.inputs,
      params: parts.params,
    }),
  );
}

export const inferenceJobSchema = z.object({
  jobKey: sha256Schema,
  tenant: z.string(),
  model: z.object({ sha256: sha256Schema, adapter: adapterNameSchema }),
  inputs: inputsSchema,
  params: z.record(z.string(), z.unknown()),
});
export type InferenceJob = z.infer<typeof inferenceJobSchema>;

export const packageJobSchema = z.object({ packageId: z.string().min(1) });
export type PackageJob = z.infer<typeof packageJobSchema>;

/** Name of the output file inside outputs/<jobKey>/. */
export const OUTPUT_FILE = "output.mp4";
