/**
 * The adapters mediaq knows, as the API validates them: each one's params (with defaults,
 * applied into the job key), the inputs an item gives it, and whether a batch can run it.
 * The worker's side of each adapter is its folder under packages/worker/src/adapters/
 * (docs/architecture.md#adapters). Adding an adapter: one line in ADAPTERS below.
 */
import { z } from "zod";
import { faceTrackParamsSchema } from "./face-track.ts";
import { sha256Schema } from "./hashing.ts";
import { piperParamsSchema } from "./piper-voice.ts";

/** What an input blob holds. */
export const INPUT_KINDS = ["video", "audio", "image", "text"] as const;
export type InputKind = (typeof INPUT_KINDS)[number];

/** Colour channel order a model expects in its image tensors (and returns in its output). */
export const channelOrderSchema = z.enum(["bgr", "rgb"]);
export type ChannelOrder = z.infer<typeof channelOrderSchema>;

/** One set of inputs an item may give: input name -> what it holds. */
export type InputSet = Readonly<Record<string, InputKind>>;

export interface AdapterSpec<P extends z.ZodType = z.ZodType> {
  /** Params with their defaults; unknown params are refused. */
  params: P;
  /** The input sets an item may give (one of them, exactly). Empty: not runnable as a batch. */
  inputs: readonly InputSet[];
  /** The channel order its models were trained on, when a registration does not say. */
  channels: ChannelOrder;
}

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
    /**
     * The Piper voice that speaks an item's `text` input (script to video): a tag or sha256
     * as given, recorded as the voice's sha256. No default, so audio items' keys stay as they were.
     */
    voice: z.string().min(1).optional(),
  })
  .extend(faceTrackParamsSchema.shape)
  .strict();

/**
 * Parameters of the inswapper adapter (face swap, docs/architecture.md#face-swap), with their
 * defaults. The face track's params are lip-sync's, so both share a video's track.
 */
export const inswapperParamsSchema = z
  .object({
    /** The arcface model that turns the source face into an identity: its sha256 (the API takes a tag and stores its hash). */
    recognizer: sha256Schema,
    /** Feathering of the pasted face's edge (FaceFusion's face_mask_blur): 0 = a hard edge. */
    blend: z.number().min(0).max(1).default(0.3),
  })
  .extend(faceTrackParamsSchema.shape)
  .strict();

const adapter = <P extends z.ZodType>(spec: AdapterSpec<P>) => spec;

/** Every adapter, one line each. Helper models (face detectors) have no inputs of their own. */
export const ADAPTERS = {
  /** Lip-sync (Wav2Lip as ONNX): a talking-head video for an audio track. */
  wav2lip: adapter({
    params: wav2lipParamsSchema,
    // {video, text}: the text is spoken first by params.voice (a speech stage), then lip-synced.
    inputs: [
      { video: "video", audio: "audio" },
      { video: "video", text: "text" },
    ],
    channels: "bgr",
  }),
  /** Text to speech (Piper's VITS voices as ONNX, registered with their .onnx.json config): a WAV of a text. */
  piper: adapter({ params: piperParamsSchema, inputs: [{ text: "text" }], channels: "rgb" }),
  /** Face detectors (MediaPipe BlazeFace as ONNX): registered as models, used through params.detector. */
  blazeface: adapter({ params: z.object({}).strict(), inputs: [], channels: "rgb" }),
  /** Face swap (insightface's inswapper-128 as ONNX): the face of an image on every face of a video. */
  inswapper: adapter({ params: inswapperParamsSchema, inputs: [{ video: "video", face: "image" }], channels: "rgb" }),
  /** Face recognizers (ArcFace as ONNX): registered as models, used through params.recognizer. */
  arcface: adapter({ params: z.object({}).strict(), inputs: [], channels: "rgb" }),
} as const;

export type AdapterName = keyof typeof ADAPTERS;
export const adapterNameSchema = z.enum(Object.keys(ADAPTERS) as [AdapterName, ...AdapterName[]]);
/** An adapter's params after defaults. */
export type AdapterParams<A extends AdapterName> = z.infer<(typeof ADAPTERS)[A]["params"]>;

/** Adapters of models a batch can run (the others serve those, like face detectors). */
export const BATCH_ADAPTERS: readonly AdapterName[] = (Object.keys(ADAPTERS) as AdapterName[]).filter(
  (name) => ADAPTERS[name].inputs.length > 0,
);

/** Input names are identifiers (`video`, `audio`, `text`, `face`, ...). */
export const inputNameSchema = z.string().regex(/^[a-z][A-Za-z0-9]{0,31}$/, "expected an input name such as video");

/**
 * An item's inputs: input name -> SHA-256 of the blob. Which names an adapter takes is
 * checked per adapter (`checkInputs`); the names are part of the job key.
 */
export type Inputs = Readonly<Record<string, string>>;

/** The input sets an adapter takes, for messages: "{video, audio} or {video, text}". */
export const describeInputSets = (name: AdapterName): string =>
  ADAPTERS[name].inputs.map((set) => `{${Object.keys(set).join(", ")}}`).join(" or ") || "no inputs";

/** The input set `inputs` gives, or an error message saying which sets the adapter takes. */
export function checkInputs(
  name: AdapterName,
  inputs: Inputs,
): { ok: true; set: InputSet } | { ok: false; message: string } {
  const given = Object.keys(inputs).sort();
  const set = ADAPTERS[name].inputs.find((s) => {
    const names = Object.keys(s).sort();
    return names.length === given.length && names.every((n, i) => n === given[i]);
  });
  if (set) return { ok: true, set };
  return {
    ok: false,
    message: `the ${name} adapter takes inputs ${describeInputSets(name)}; got {${given.join(", ")}}`,
  };
}
