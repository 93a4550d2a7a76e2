/**
 * What the worker knows of an adapter (docs/architecture.md#adapters). Each adapter is a
 * folder beside this file exporting one `Adapter`, listed in `registry.ts`; its params
 * schema and input sets are shared's (`ADAPTERS` in packages/shared/src/adapters.ts), which
 * the API validates against. The item and segment processors only call these methods.
 */
import type {
  AdapterName,
  AdapterParams,
  FaceTrackParams,
  FaceTrackRecord,
  InferenceJob,
  ItemFace,
  Logger,
  OutputInfo,
  SegmentPiece,
  SegmentProbe,
} from "@mediaq/shared";
import type { Job } from "bullmq";
import type { LoadReply } from "../inference/protocol.ts";
import type { ModelHandle } from "../model-cache.ts";
import type { Stages } from "../pipeline.ts";
import type { ProcessorDeps } from "../processor.ts";
import type { ProgressReporter } from "../progress.ts";
import type { Scratch } from "../scratch.ts";

/** A loaded model's ONNX signature, as ONNX Runtime reports it: what `bind` reads. */
export type ModelSignature = Pick<LoadReply, "inputMetadata" | "outputMetadata">;

/** A face track an item needs before it runs: the video's, with the detector's params. */
export interface FaceTrackNeed {
  /** SHA-256 of the video input. */
  video: string;
  params: FaceTrackParams;
  /** The track must have the faces' keypoints (format 2; an older track is detected again). */
  keypoints?: boolean;
}

/** Everything a job of an adapter works with. */
export interface JobContext<P> {
  deps: ProcessorDeps;
  data: InferenceJob;
  /** The item's params, parsed by the adapter's schema (defaults applied). */
  params: P;
  /** The face track `faceTrack` asked for (undefined when it asked none). */
  track?: FaceTrackRecord;
  scratch: Scratch;
  /** Times named stages ("fetch", "probe", "infer", ...) into the result's timings and progress. */
  stages: Stages;
  /** Progress per stage (an item's, or a segment's: then only "infer" counts). */
  progress: ProgressReporter;
  /** Kills the job's ffmpeg processes on failure or shutdown. */
  signal: AbortSignal;
  log: Logger;
  /**
   * The item's own queue job, for an adapter that runs a stage as a child job (a BullMQ
   * flow: add the child with this job as parent, then `moveToWaitingChildren` and throw
   * WaitingChildrenError; the job runs again once the child is done). Absent in a segment's job.
   */
  item?: { job: Job<InferenceJob>; token: string | undefined };
  /** In a segment's job: its range and the item's probe (docs/architecture.md#segments). */
  segment?: SegmentPart;
}

/** A segment's part in preparing its item: the item's probe (made once per item), its range, the item's frames. */
export interface SegmentPart {
  /** Absent in a segment queued by an older worker: the segment probes for itself. */
  probe?: SegmentProbe;
  range: { start: number; count: number };
  total: number;
}

/** A job fetched and probed, its model bound: ready to make its output. */
export interface PreparedJob {
  /** The face track the output used, shown on the item. */
  face?: ItemFace;
  /**
   * Makes the whole output into `outFile` (named by the adapter's `output`); returns units
   * made (frames, samples), and `picture` true when it also wrote the output's picture to
   * `pictureFile` (an encoder that writes it: no separate run over the output).
   */
  produce(outFile: string, pictureFile?: string): Promise<{ units: number; picture?: boolean }>;
  /** A job that can run as segments (docs/architecture.md#segments); absent: always one job. */
  segments?: SegmentedJob;
}

/** A frame job cut into segments of output frames, each a video-only MP4 piece. */
export interface SegmentedJob {
  /** Output frames of the whole job, their rate and size (segments are sized by their measured cost). */
  frames: number;
  fps: number;
  frameSize: { width: number; height: number };
  /** The probe the item's job hands its segments, so they probe nothing. */
  probe(): Promise<SegmentProbe>;
  /**
   * Encodes output frames [start, start + count) into `outFile`; returns the frames made and
   * the frames its decoder decoded for them.
   */
  runRange(range: { start: number; count: number }, outFile: string): Promise<{ frames: number; decoded?: number }>;
  /** Joins the pieces (in timeline order) into the whole output; returns its frames. */
  stitch(pieces: SegmentPiece[], outFile: string): Promise<number>;
}

/** The output of one job: `OutputInfo` plus how its picture (poster, waveform) is drawn. */
export interface OutputSpec extends OutputInfo {
  /** Draws the output's picture (a JPEG) from the finished output file; absent: no picture. */
  picture?(outFile: string, pictureFile: string, signal: AbortSignal): Promise<void>;
}

export interface Adapter<A extends AdapterName = AdapterName> {
  readonly name: A;
  /**
   * Checks a loaded model against the adapter's ONNX signature and names its tensors'
   * roles (throws BadInputError naming what the model has and what was needed).
   */
  bind(model: ModelSignature, modelLabel: string): unknown;
  /** The output a job with these params makes: container, extension, MIME type, picture. */
  output(params: AdapterParams<A>): OutputSpec;
  /** The face track the job waits for before it runs; absent or undefined: none. */
  faceTrack?(data: InferenceJob, params: AdapterParams<A>): FaceTrackNeed | undefined;
  /**
   * Work the job's inputs need first that is made once and shared by the items using it
   * (content-addressed, like face tracks; e.g. face swap's source identity). Resolves when
   * it is ready; when not, queues it and moves the job to delayed by throwing BullMQ's
   * DelayedError (no attempt spent); throws BadInputError when it failed for good.
   */
  awaitInputs?(w: InputWait<AdapterParams<A>>): Promise<void>;
  /** Fetches, probes and binds: everything before the output is made (or its segments run). */
  prepare(ctx: JobContext<AdapterParams<A>>): Promise<PreparedJob>;
}

/** What `awaitInputs` works with: the job, to move it to delayed while it waits. */
export interface InputWait<P> {
  deps: ProcessorDeps;
  job: Job;
  token: string | undefined;
  data: InferenceJob;
  params: P;
}

/** The model of a job, loaded and bound (`bind`), for adapters' prepare. */
export interface BoundModel<B> {
  session: ModelHandle;
  binding: B;
}
