import {
  computeTrackKey,
  type Config,
  dedupScope,
  type FaceTrackJob,
  type FaceTrackRecord,
  type InferenceJob,
  type Ledger,
  QUEUES,
  TRACK_FORMAT,
} from "@mediaq/shared";
import type { FaceTrackNeed } from "../adapters/adapter.ts";
import { DelayedError, type Job, type Queue } from "bullmq";
import { BadInputError } from "../errors.ts";

/** How long an item waits before it looks at its face track again. */
export const TRACK_POLL_MS = 1000;

export interface TrackWaitDeps {
  config: Config;
  ledger: Ledger;
  faceTrackQueue: Queue<FaceTrackJob>;
}

/**
 * The face track an inference job needs, when it exists. Otherwise makes sure the track's
 * own job is queued and moves the inference job to delayed (no attempt spent, the worker
 * free to run the track job meanwhile) by throwing BullMQ's DelayedError. Undefined when
 * the item needs no track (`need` undefined: its adapter's faceTrack asked none, e.g. an explicit box).
 * A track job that failed for good fails the item with its reason (docs/architecture.md,
 * "Face tracks").
 */
export async function awaitFaceTrack(
  deps: TrackWaitDeps,
  job: Job,
  token: string | undefined,
  data: InferenceJob,
  need: FaceTrackNeed | undefined,
): Promise<FaceTrackRecord | undefined> {
  if (!need) return undefined;
  const { video, params: trackParams } = need;
  const trackKey = computeTrackKey({ scope: dedupScope(deps.config, data.tenant), video, params: trackParams });
  const record = await deps.ledger.tracks.get(trackKey);
  // A track of format 1 has no keypoints: detected again for an item that needs them.
  if (record && (!need.keypoints || record.format === TRACK_FORMAT)) return record;

  const existing = await deps.faceTrackQueue.getJob(trackKey);
  const state = existing ? await existing.getState() : undefined;
  if (existing && state === "failed") {
    // Removed so that a retry of the item detects again.
    await existing.remove().catch(() => {});
    throw new BadInputError(
      `face detection on video input ${video.slice(0, 12)} failed: ${existing.failedReason || "unknown reason"}`,
    );
  }
  // Completed without a record: the ledger lost it, so detect again.
  if (existing && state === "completed") await existing.remove();
  if (!existing || state === "completed")
    await deps.faceTrackQueue.add(
      QUEUES.faceTrack,
      { trackKey, tenant: data.tenant, video, params: trackParams },
      { jobId: trackKey },
    );
  await job.moveToDelayed(Date.now() + TRACK_POLL_MS, token);
  throw new DelayedError();
}
