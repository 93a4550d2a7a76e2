/**
 * BullMQ processor for QUEUES.segment: one segment of a long item, output frames
 * [start, start + count), encoded as a standalone video-only piece (it starts on a
 * keyframe: every encode starts with one), uploaded beside the item's attempts and recorded
 * in the ledger. A recorded segment never runs again (docs/architecture.md#segments).
 */
import {
  type FaceTrackRecord,
  objectKeys,
  dropSegmentPieces,
  type SegmentJob,
  segmentJobSchema,
  segmentRange,
} from "@mediaq/shared";
import { DelayedError, type Job, type Processor, UnrecoverableError, WaitingError } from "bullmq";
import { awaitFaceTrack } from "../face/track-wait.ts";
import { type AdapterRun, resolveAdapter } from "../adapters/registry.ts";
import { newAttemptId, Stages, uploadFile, withScratch } from "../pipeline.ts";
import type { ProcessorDeps } from "../processor.ts";
import { ProgressReporter } from "../progress.ts";
import { observeCost } from "./frame-cost.ts";
import { settleSegmentFailure } from "./segment-failure.ts";

export interface SegmentOutput {
  jobKey: string;
  range: string;
  sha256?: string;
  skipped?: boolean;
}

export function createSegmentProcessor(deps: ProcessorDeps): Processor<SegmentJob, SegmentOutput> {
  return async (job, token) => {
    const parsed = segmentJobSchema.safeParse(job.data);
    if (!parsed.success) throw new UnrecoverableError(`malformed segment job: ${parsed.error.message}`);
    const segment = parsed.data;
    const { item } = segment;
    const range = segmentRange(segment);
    const log = deps.log.child({ jobKey: item.jobKey, segment: range, attempt: job.attemptsMade + 1 });

    if (deps.diskGuard && !(await deps.diskGuard.check())) {
      await job.moveToWait(token);
      log.warn("too little free disk; segment handed back to the queue");
      throw new WaitingError();
    }
    // Done, cancelled (no batch waits) or failed by another segment: nothing to do.
    const start = await deps.ledger.jobs.start(item.jobKey, { segment: true });
    if (start !== "started") {
      log.info({ item: start }, "skipping segment");
      return { jobKey: item.jobKey, range, skipped: true };
    }
    if ((await deps.ledger.segments.pieces(item.jobKey)).has(range)) {
      log.info("segment already recorded; skipping");
      return { jobKey: item.jobKey, range, skipped: true };
    }
    let track: FaceTrackRecord | undefined;
    try {
      const resolved = resolveAdapter(item);
      // The item found its track before it planned the segments; this only reads it.
      track = await awaitFaceTrack(deps, job, token, item, resolved.adapter.faceTrack?.(item, resolved.params));
      return await withScratch(deps, `${item.jobKey}-${range}`, log, (scratch, signal) =>
        runSegment(deps, job, segment, range, { ...resolved, track, scratch, signal, log }),
      );
    } catch (err) {
      if (err instanceof DelayedError) throw err;
      throw await settleSegmentFailure(
        { ...deps, dropPieces: (jobKey) => dropPieces(deps, jobKey) },
        job,
        token,
        item.jobKey,
        err,
        log,
      );
    }
  };
}

async function runSegment(
  deps: ProcessorDeps,
  job: Job<SegmentJob>,
  segment: SegmentJob,
  range: string,
  o: AdapterRun,
): Promise<SegmentOutput> {
  const { ledger } = deps;
  const { item } = segment;
  const { scratch, signal } = o;
  const progress = new ProgressReporter(ledger, job, item.jobKey, { segment: { range, total: segment.total } });
  const stages = new Stages(deps.metrics, progress, signal);
  const ctx = {
    deps,
    data: item,
    params: o.params,
    track: o.track,
    scratch,
    stages,
    progress,
    signal,
    log: o.log,
    segment: { probe: segment.probe, range: { start: segment.start, count: segment.count }, total: segment.total },
  };
  const segmented = (await o.adapter.prepare(ctx)).segments;
  if (!segmented) throw new Error(`the ${o.adapter.name} adapter does not run as segments`);
  if (segmented.frames !== segment.total)
    throw new Error(
      `the item now has ${segmented.frames} output frames, its segments were planned for ${segment.total}`,
    );
  // Counted when the segment's frame path starts: the fault tests compare these runs with
  // the segments their kills interrupted.
  await ledger.segments.countRun(item.jobKey, range);
  const key = objectKeys.segmentPiece(item.jobKey, newAttemptId(), range);
  const outFile = scratch.path(key.slice(key.lastIndexOf("/") + 1));
  const framePath = await segmented.runRange({ start: segment.start, count: segment.count }, outFile);
  const { sha256, size } = await stages.run("upload", () =>
    uploadFile(deps, item, outFile, key, { contentType: "video/mp4", signal }),
  );
  if (signal.aborted) throw signal.reason;
  // The first piece recorded for the range stands; a later one is swept with the item's attempts.
  await ledger.segments.record(item.jobKey, range, {
    start: segment.start,
    count: framePath.frames,
    key,
    sha256,
    size,
    decoded: framePath.decoded,
  });
  await observeCost(deps, item, segmented.frameSize, stages, { frames: framePath.frames, segment: true });
  // Another segment failed the item meanwhile, or a cancel left no batch waiting: this piece
  // can never be used, and the item's own job may not run soon (a sibling's retry waits out
  // its backoff) or at all (it fails with a sibling).
  if (!(await ledger.jobs.live(item.jobKey))) await dropPieces(deps, item.jobKey);
  await progress.flush();
  return { jobKey: item.jobKey, range, sha256 };
}

/** A long item that can never finish: its pieces go (dropSegmentPieces). */
export const dropPieces = (deps: Pick<ProcessorDeps, "s3" | "config" | "ledger">, jobKey: string) =>
  dropSegmentPieces(deps.ledger, deps.s3, deps.config.S3_BUCKET, jobKey);
