/**
 * Face detection's cost on a 720p clip (the astronaut footage scaled to 1280x720, 4 s at
 * 25 fps): milliseconds per frame of the face-track job's detection section (decode +
 * detector), and detection's share of one item's time (track job + lip-sync job), against a
 * baseline measured in the same run: the same item with an explicit box (no detection).
 *
 * Run: pnpm bench face   (or: node test/bench/face.bench.ts)
 */
import path from "node:path";
import { fileURLToPath } from "node:url";
import { createFaceTrackQueue, createRedis } from "@mediaq/shared";
import { DEMO_MODEL_PATH } from "../../packages/worker/scripts/make-demo-model.ts";
import type { FaceTrackOutput } from "../../packages/worker/src/face/track-job.ts";
import { startWorker } from "../../packages/worker/src/index.ts";
import { startWorkerHarness } from "../../packages/worker/test/helpers.ts";
import { DEFAULT_FOOTAGE, makeFaceFootage, makeSpeech, scaledFootage } from "../harness/face-footage.ts";

const sum = (timings: Record<string, number> | undefined) =>
  Object.entries(timings ?? {})
    .filter(([stage]) => stage !== "inference") // part of "infer"
    .reduce((a, [, s]) => a + s, 0);

export default async function faceBench(): Promise<void> {
  const h = await startWorkerHarness();
  const queueRedis = createRedis(h.infra.config);
  const tracks = createFaceTrackQueue(queueRedis, h.infra.config);
  try {
    const f = (n: string) => path.join(h.infra.dir, n);
    const footage = { ...scaledFootage(DEFAULT_FOOTAGE, 1280, 720), seconds: 4 };
    makeFaceFootage(f("720p.mp4"), footage);
    makeSpeech(f("speech.wav"), "One small step for a face detector, one giant leap for lip sync.");
    const [video, audio, model] = await Promise.all([
      h.putFile(f("720p.mp4")),
      h.putFile(f("speech.wav")),
      h.putFile(DEMO_MODEL_PATH),
    ]);
    const worker = await startWorker(h.config());
    try {
      const run = async (params: object) => {
        const { batchId, items } = await h.submit(model, [{ name: "clip", video, audio, params }]);
        const counts = await h.waitDone(batchId, 900_000);
        if (counts.succeeded !== 1) throw new Error(`item failed: ${JSON.stringify(counts)}`);
        return h.ledger.jobs.getResult(items[0]?.jobKey as string);
      };
      const baseline = await run({ box: [500, 100, 300, 300] }); // no detection
      const detected = await run({ box: null });
      const trackJob = await tracks.getJob(detected?.face?.trackKey as string);
      const out = trackJob?.returnvalue as FaceTrackOutput;
      const trackSeconds = ((trackJob?.finishedOn ?? 0) - (trackJob?.processedOn ?? 0)) / 1000;
      const frames = out.frames ?? 0;
      const itemSeconds = sum(detected?.timings);
      const baseSeconds = sum(baseline?.timings);
      const total = trackSeconds + itemSeconds;
      console.log(
        [
          `720p clip, ${frames} frames (${footage.width}x${footage.height}), one worker, CPU`,
          `detection: ${((1000 * (out.detectSeconds ?? 0)) / frames).toFixed(1)} ms per frame ` +
            `(decode + detector section; track job ${trackSeconds.toFixed(2)} s in all)`,
          `lip-sync job ${itemSeconds.toFixed(2)} s with a track, ${baseSeconds.toFixed(2)} s with a box (baseline)`,
          `detection's share of the item's time: ${((100 * trackSeconds) / total).toFixed(0)}% ` +
            `(item with detection / baseline = ${(total / baseSeconds).toFixed(2)}x; ` +
            "later items on the same clip reuse the track and pay none of it)",
        ].join("\n"),
      );
    } finally {
      await worker.close();
    }
  } finally {
    await tracks.close();
    queueRedis.disconnect();
    await h.stop();
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) await faceBench();
