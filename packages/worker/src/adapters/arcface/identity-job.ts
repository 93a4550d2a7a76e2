/**
 * Source identities computed once per (image, recognizer, detector, scope) and stored
 * content-addressed at identities/<identityKey>/identity.json, like face tracks
 * (docs/architecture.md#face-swap). An item that needs one queues its job on the face-track
 * queue (same worker, same card lock, id = identity key: duplicates dropped) and waits
 * delayed. A source without a face is stored as such, so every item on it fails with the
 * reason without detecting again.
 */
import type { S3Client } from "@aws-sdk/client-s3";
import {
  canonicalJson,
  type Config,
  dedupScope,
  getObjectStream,
  headObject,
  PIPELINE_VERSION,
  putStream,
  QUEUES,
  sha256Hex,
} from "@mediaq/shared";
import { DelayedError, type Job, type Queue, UnrecoverableError } from "bullmq";
import { z } from "zod";
import { BadInputError } from "../../errors.ts";
import { bindBlazeFace } from "../../face/blazeface-binding.ts";
import type { TrackJobDeps } from "../../face/track-job.ts";
import { TRACK_POLL_MS } from "../../face/track-wait.ts";
import { downloadBlob } from "../../fetch.ts";
import type { ProcessorDeps } from "../../processor.ts";
import { createScratch } from "../../scratch.ts";
import { SwapOps } from "../inswapper/warp-ops.ts";
import { computeIdentity, type Identity } from "./identity.ts";
import { ARCFACE_SIZE, bindArcFace } from "./signature.ts";
import { readSourceImage } from "./source-image.ts";

/** Bump when a change would give another embedding for the same inputs. */
const IDENTITY_FORMAT = 1;

export const identityJobSchema = z.object({
  kind: z.literal("identity"),
  identityKey: z.string(),
  tenant: z.string(),
  /** SHA-256 of the source image blob, of the arcface model, of the blazeface model. */
  image: z.string(),
  recognizer: z.string(),
  detector: z.string(),
  faceMinScore: z.number().nullable(),
});
export type IdentityJob = z.infer<typeof identityJobSchema>;

/** identity.json: the identity, or why the source has none. */
export type StoredIdentity = { identityKey: string; image: string; recognizer: string } & (
  | Identity
  | { error: string }
);

export const identityObjectKey = (identityKey: string) => `identities/${identityKey}/identity.json`;

export function computeIdentityKey(
  o: Omit<IdentityJob, "kind" | "identityKey" | "tenant"> & { scope: string },
): string {
  return sha256Hex(
    canonicalJson({
      kind: "face-identity",
      format: IDENTITY_FORMAT,
      pipeline: PIPELINE_VERSION,
      scope: o.scope,
      image: o.image,
      recognizer: o.recognizer,
      detector: o.detector,
      faceMinScore: o.faceMinScore,
    }),
  );
}

/** The identity job an item's params call for. */
export function identityJobOf(
  config: Pick<Config, "DEDUP_SCOPE">,
  tenant: string,
  o: { image: string; recognizer: string; detector: string; faceMinScore: number | null },
): IdentityJob {
  const identityKey = computeIdentityKey({ ...o, scope: dedupScope(config, tenant) });
  return { kind: "identity", identityKey, tenant, ...o };
}

export async function readIdentity(
  s3: S3Client,
  bucket: string,
  identityKey: string,
): Promise<StoredIdentity | undefined> {
  const key = identityObjectKey(identityKey);
  if (!(await headObject(s3, bucket, key))) return undefined;
  const chunks: Buffer[] = [];
  for await (const chunk of await getObjectStream(s3, bucket, key)) chunks.push(chunk as Buffer);
  return JSON.parse(Buffer.concat(chunks).toString("utf8")) as StoredIdentity;
}

/**
 * The item's source identity when it is stored (BadInputError when the source has no face);
 * otherwise queues its job and moves the item to delayed (DelayedError), as face tracks do.
 */
export async function awaitIdentity(
  deps: ProcessorDeps,
  job: Job,
  token: string | undefined,
  wanted: IdentityJob,
): Promise<Identity> {
  const stored = await readIdentity(deps.s3, deps.config.S3_BUCKET, wanted.identityKey);
  if (stored && "error" in stored) throw new BadInputError(stored.error);
  if (stored) return stored;
  // The face-track queue runs face analysis jobs of both kinds (track-job.ts hands this one here).
  const queue = deps.faceTrackQueue as unknown as Queue<IdentityJob>;
  const existing = await queue.getJob(wanted.identityKey);
  const state = existing ? await existing.getState() : undefined;
  if (existing && state === "failed") {
    await existing.remove().catch(() => {}); // a retry of the item computes it again
    throw new BadInputError(`the source face could not be read: ${existing.failedReason || "unknown reason"}`);
  }
  if (existing && state === "completed") {
    // Finished since the look above, or its object was lost (then it is computed again).
    const now = await readIdentity(deps.s3, deps.config.S3_BUCKET, wanted.identityKey);
    if (now && "error" in now) throw new BadInputError(now.error);
    if (now) return now;
    await existing.remove();
  }
  if (!existing || state === "completed") await queue.add(QUEUES.faceTrack, wanted, { jobId: wanted.identityKey });
  await job.moveToDelayed(Date.now() + TRACK_POLL_MS, token);
  throw new DelayedError();
}

export interface IdentityJobOutput {
  identityKey: string;
  /** The recognizer ran (false: found stored). */
  computed: boolean;
  faces?: number;
}

// The aligned crop runs here, on the thread of the face-track worker: one small image per identity.
let ops: SwapOps | undefined;

/** Runs an identity job (from the face-track queue's processor). */
export async function runIdentityJob(deps: TrackJobDeps, job: Job): Promise<IdentityJobOutput> {
  const parsed = identityJobSchema.safeParse(job.data);
  if (!parsed.success) throw new UnrecoverableError(`malformed identity job: ${parsed.error.message}`);
  const data = parsed.data;
  const { s3, config } = deps;
  if (await headObject(s3, config.S3_BUCKET, identityObjectKey(data.identityKey)))
    return { identityKey: data.identityKey, computed: false };
  const label = `face input ${data.image.slice(0, 12)}`;
  const scratch = await createScratch(config.CACHE_ROOT, `identity-${data.identityKey}`);
  let stored: StoredIdentity;
  try {
    const recognizer = deps.models.get(data.recognizer);
    const detector = deps.models.get(data.detector);
    recognizer.catch(() => {});
    detector.catch(() => {}); // both awaited below
    await downloadBlob(s3, config.S3_BUCKET, data.image, label, scratch.path("image"));
    const image = await readSourceImage(scratch.path("image"), label, config.MAX_FRAME_PIXELS);
    const [r, d] = await Promise.all([recognizer, detector]);
    const arcface = bindArcFace(r, `recognizer ${data.recognizer.slice(0, 12)}`);
    const blazeface = bindBlazeFace(d, `face detector ${data.detector.slice(0, 12)}`);
    ops ??= new SwapOps();
    const identity = await deps.inferenceLock.runExclusive(() =>
      computeIdentity({
        image,
        label,
        ops: ops as SwapOps,
        detect: async (img) =>
          (
            await d.detect(blazeface, {
              frames: [new Uint8Array(img.rgb)],
              width: img.width,
              height: img.height,
              minScore: data.faceMinScore ?? blazeface.minScore,
            })
          ).faces[0] ?? [],
        embed: async (input) => {
          const result = await r.run({
            feeds: { [arcface.input]: { type: "float32", data: input, dims: [1, 3, ARCFACE_SIZE, ARCFACE_SIZE] } },
            fetch: [arcface.output],
          });
          return result.outputs[arcface.output]?.data as Float32Array;
        },
      }),
    );
    stored = { identityKey: data.identityKey, image: data.image, recognizer: data.recognizer, ...identity };
  } catch (err) {
    // What is wrong with the inputs is the inputs' property: stored, so no item computes it again.
    if (!(err instanceof BadInputError)) throw err;
    stored = { identityKey: data.identityKey, image: data.image, recognizer: data.recognizer, error: err.message };
  } finally {
    if (config.AUTO_CLEAR_CACHE) await scratch.remove().catch(() => {});
  }
  await putStream(s3, {
    bucket: config.S3_BUCKET,
    key: identityObjectKey(data.identityKey),
    body: JSON.stringify(stored),
    contentType: "application/json",
  });
  deps.log.info(
    { identityKey: data.identityKey, faces: "faces" in stored ? stored.faces : 0 },
    "source identity stored",
  );
  return { identityKey: data.identityKey, computed: true, faces: "faces" in stored ? stored.faces : 0 };
}
