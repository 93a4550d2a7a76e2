import { z } from "zod";
import {
  ADAPTERS,
  type AdapterName,
  adapterNameSchema,
  BATCH_ADAPTERS,
  type ChannelOrder,
  channelOrderSchema,
  describeInputSets,
  type Inputs,
  inputNameSchema,
} from "./adapters.ts";
import type { FaceTrackParams } from "./face-track.ts";
import { canonicalJson, sha256Hex, sha256Schema } from "./hashing.ts";

export * from "./adapters.ts";

/** Bump when a change to the worker would change outputs: every job key changes with it. */
export const PIPELINE_VERSION = "2";

export const QUEUES = {
  inference: "inference",
  package: "package",
  faceTrack: "face-track",
  segment: "segment",
} as const;

/** A model's channel order: the one registered with it, else its adapter's default. */
export const channelsOf = (model: { adapter: AdapterName; channels?: ChannelOrder }): ChannelOrder =>
  model.channels ?? ADAPTERS[model.adapter].channels;

/** Applies an adapter's defaults; throws a ZodError for unknown or bad params. */
export function normalizeParams(adapter: AdapterName, params: unknown): Record<string, unknown> {
  return ADAPTERS[adapter].params.parse(params ?? {}) as Record<string, unknown>;
}

/** An item's inputs by name (which names, per adapter: `checkInputs`). */
export const inputsSchema = z
  .record(inputNameSchema, sha256Schema)
  .refine((inputs) => Object.keys(inputs).length > 0, "at least one input is needed")
  .describe(
    `SHA-256 of each input blob by input name; one of the input sets of the model's adapter: ${BATCH_ADAPTERS.map(
      (name) => `${name} ${describeInputSets(name)}`,
    ).join("; ")}`,
  );

export interface JobKeyParts {
  /** The tenant id, or "global" when dedup scope is global. */
  scope: string;
  modelSha256: string;
  adapter: AdapterName;
  /** The model's registered channel order; the adapter's default when absent. */
  channels?: ChannelOrder;
  /** SHA-256 of the config blob registered with the model (a Piper voice's .onnx.json); absent for models without one. */
  config?: string;
  inputs: Inputs;
  /** Already normalized with normalizeParams. */
  params: Record<string, unknown>;
  /** The job key of the speech stage a script-to-video item lip-syncs (absent: audio items, whose keys stay as they were). */
  speech?: string;
}

/** SHA-256 of everything that decides an item's output (docs/architecture.md#content-addressing). */
export function computeJobKey(parts: JobKeyParts): string {
  return sha256Hex(
    canonicalJson({
      pipeline: PIPELINE_VERSION,
      scope: parts.scope,
      model: parts.modelSha256,
      adapter: parts.adapter,
      channels: channelsOf(parts),
      // Only models registered with a config have it: other keys stay as they were.
      ...(parts.config ? { config: parts.config } : {}),
      inputs: parts.inputs,
      params: parts.params,
      ...(parts.speech ? { speech: parts.speech } : {}),
    }),
  );
}

/** Key of a face track (docs/architecture.md, "Face tracks"); scope as in job keys. */
export function computeTrackKey(o: { scope: string; video: string; params: FaceTrackParams }): string {
  return sha256Hex(
    canonicalJson({
      kind: "face-track",
      pipeline: PIPELINE_VERSION,
      scope: o.scope,
      video: o.video,
      detector: o.params.detector,
      params: { faceMinScore: o.params.faceMinScore, smoothing: o.params.smoothing },
    }),
  );
}

const jobModelSchema = z.object({
  sha256: sha256Schema,
  adapter: adapterNameSchema,
  channels: channelOrderSchema.optional(),
  /** The config blob registered with the model (a Piper voice's .onnx.json). */
  config: sha256Schema.optional(),
});

/**
 * The speech a script-to-video item lip-syncs (docs/architecture.md#script-to-video): the
 * voice as resolved at submit, and the job key a plain speech item of the same text and
 * voice has, so both share one result.
 */
export const speechStageSchema = z.object({ jobKey: sha256Schema, voice: jobModelSchema });
export type SpeechStage = z.infer<typeof speechStageSchema>;

export const inferenceJobSchema = z.object({
  jobKey: sha256Schema,
  tenant: z.string(),
  model: jobModelSchema,
  inputs: inputsSchema,
  params: z.record(z.string(), z.unknown()),
  /** A script-to-video item: its speech stage, which runs first as a child job. */
  speech: speechStageSchema.optional(),
  /**
   * Marks a stage job (the speech of a script-to-video item): it runs for its parent's
   * batches, not its own, and reports progress under the parent's job key as `stage`.
   */
  stage: z.object({ name: z.literal("speech"), parent: sha256Schema }).optional(),
});
export type InferenceJob = z.infer<typeof inferenceJobSchema>;

/** What the item's job found when it probed its inputs, handed to its segments so they probe nothing. */
export const segmentProbeSchema = z.object({
  video: z.object({
    width: z.number().int().min(1),
    height: z.number().int().min(1),
    rotation: z.union([z.literal(0), z.literal(90), z.literal(180), z.literal(270)]),
    fps: z.number().positive(),
    frames: z.number().int().min(1),
    duration: z.number().min(0),
    colorMatrix: z.string(),
    fullRange: z.boolean(),
  }),
  /** PCM audio: a segment decodes its window by seeking (media/decode.ts). */
  audioSeekable: z.boolean(),
});
export type SegmentProbe = z.infer<typeof segmentProbeSchema>;

/**
 * One segment of a long item: output frames [start, start + count) of the item's output
 * timeline (docs/architecture.md#segments). Its queue job id is `segmentJobId`.
 */
export const segmentJobSchema = z.object({
  item: inferenceJobSchema,
  start: z.number().int().min(0),
  count: z.number().int().min(1),
  /** The item's output frames, for its progress bar. */
  total: z.number().int().min(1),
  /** Absent in a segment queued by an older worker: the segment probes for itself. */
  probe: segmentProbeSchema.optional(),
});
export type SegmentJob = z.infer<typeof segmentJobSchema>;

/** A segment's name within its item: its frame range. */
export const segmentRange = (s: { start: number; count: number }) => `${s.start}-${s.start + s.count}`;

/** The item's job key plus the segment's frame range (BullMQ ids may not hold ":"). */
export const segmentJobId = (jobKey: string, s: { start: number; count: number }) => `${jobKey}-${segmentRange(s)}`;

export const packageJobSchema = z.object({ packageId: z.string().min(1) });
export type PackageJob = z.infer<typeof packageJobSchema>;

/** Name of the output file inside outputs/<jobKey>/. */
export const OUTPUT_FILE = "output.mp4";
/** The output's poster thumbnail, stored beside it (outputs/<jobKey>/poster.jpg). */
export const POSTER_FILE = "poster.jpg";
