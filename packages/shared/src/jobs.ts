import { z } from "zod";
import { type FaceTrackParams, faceTrackParamsSchema, TRACK_FORMAT } from "./face-track.ts";
import { canonicalJson, sha256Hex, sha256Schema } from "./hashing.ts";

/** Bump when a change to the worker would change outputs: every job key changes with it. */
export const PIPELINE_VERSION = "2";

export const QUEUES = {
  inference: "inference",
  package: "package",
  faceTrack: "face-track",
  segment: "segment",
} as const;

const pixel = z.number().int();
/** Parameters of the wav2lip adapter, with their defaults. */
export const wav2lipParamsSchema = z
  .object({
    /**
     * Face box in pixels: [x, y, width, height], used as given on every frame (Wav2Lip's
     * --box: no detection, no pads); null = find the face with the detector.
     */
    box: z
      .tuple([pixel.min(0), pixel.min(0), pixel.min(1), pixel.min(1)])
      .nullable()
      .default(null),
    /** Padding around detected boxes as Wav2Lip's --pads: [top, bottom, left, right]. */
    pads: z.tuple([pixel, pixel, pixel, pixel]).default([0, 10, 0, 0]),
    // Frames per model call is the worker's INFERENCE_BATCH_SIZE, not a param: it changes
    // throughput, never the output, so identical work keeps one key.
    /** Output length: as long as the audio (the video loops) or as long as the video (audio padded or cut). */
    length: z.enum(["audio", "video"]).default("audio"),
    /** How the video loops with length=audio: forward then back without repeating a frame, or forward only. */
    loop: z.enum(["pingpong", "forward"]).default("pingpong"),
  })
  .extend(faceTrackParamsSchema.shape)
  .strict();

export const ADAPTERS = {
  wav2lip: wav2lipParamsSchema,
  /** Face detectors (MediaPipe BlazeFace as ONNX): registered as models, used through params.detector. */
  blazeface: z.object({}).strict(),
} as const;
/** Adapters of models a batch can run (the others serve those, like face detectors). */
export const BATCH_ADAPTERS: readonly AdapterName[] = ["wav2lip"];
export type AdapterName = keyof typeof ADAPTERS;
export const adapterNameSchema = z.enum(Object.keys(ADAPTERS) as [AdapterName, ...AdapterName[]]);

/** Colour channel order a model expects in its image tensors (and returns in its output). */
export const channelOrderSchema = z.enum(["bgr", "rgb"]);
export type ChannelOrder = z.infer<typeof channelOrderSchema>;
/**
 * The order an adapter's models were trained on, when a registration does not say (Wav2Lip:
 * OpenCV's BGR; BlazeFace: MediaPipe's RGB, the only order the detector feeds).
 */
export const DEFAULT_CHANNELS: Record<AdapterName, ChannelOrder> = { wav2lip: "bgr", blazeface: "rgb" };
/** A model's channel order: the one registered with it, else its adapter's default. */
export const channelsOf = (model: { adapter: AdapterName; channels?: ChannelOrder }): ChannelOrder =>
  model.channels ?? DEFAULT_CHANNELS[model.adapter];

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
  /** The model's registered channel order; the adapter's default when absent. */
  channels?: ChannelOrder;
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
      channels: channelsOf(parts),
      inputs: parts.inputs,
      params: parts.params,
    }),
  );
}

/** Key of a face track (docs/architecture.md, "Face tracks"); scope as in job keys. */
export function computeTrackKey(o: { scope: string; video: string; params: FaceTrackParams }): string {
  return sha256Hex(
    canonicalJson({
      kind: "face-track",
      format: TRACK_FORMAT,
      pipeline: PIPELINE_VERSION,
      scope: o.scope,
      video: o.video,
      detector: o.params.detector,
      params: { faceMinScore: o.params.faceMinScore, smoothing: o.params.smoothing },
    }),
  );
}

export const inferenceJobSchema = z.object({
  jobKey: sha256Schema,
  tenant: z.string(),
  model: z.object({ sha256: sha256Schema, adapter: adapterNameSchema, channels: channelOrderSchema.optional() }),
  inputs: inputsSchema,
  params: z.record(z.string(), z.unknown()),
});
export type InferenceJob = z.infer<typeof inferenceJobSchema>;

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
