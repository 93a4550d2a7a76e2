import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { probeStitched, stitchProblems } from "../harness/stitched.ts";
import { type FaultStack, sleep, startFaultStack, until, type WorkerProcess } from "./helpers.ts";

// A 5-minute item at 96x96 is cut into 10 segments of 30 s (SEGMENT_SECONDS=30, at real time:
// a fresh stack has measured no frame cost yet; a setting,
// not a bound). Its one worker is SIGKILLed twice while segments run; each kill may cost
// only the segment in flight (docs/architecture.md#segments). Segment runs are counted in
// Redis when a segment starts its frame path (ledger.segments.runs).
const SECONDS = 300;
const FPS = 25;
const SEGMENTS = 10;

describe("a long item's worker killed mid-segment", () => {
  let stack: FaultStack;
  beforeAll(async () => {
    stack = await startFaultStack({ seconds: SECONDS, videos: 1, audios: 1, env: { SEGMENT_SECONDS: "30" } });
  }, 120_000);
  afterAll(async () => {
    await stack?.stop();
  });

  it("finishes after two SIGKILLs, redoing only the segments that were running", async () => {
    const { batchId, items } = await stack.submit([{ name: "long.mp4", params: { box: [20, 20, 48, 48] } }]);
    const jobKey = items[0]?.jobKey as string;
    /** Ranges whose run started but whose piece is not recorded: the segment in flight. */
    const inFlight = async () => {
      const [runs, pieces] = await Promise.all([
        stack.ledger.segments.runs(jobKey),
        stack.ledger.segments.pieces(jobKey),
      ]);
      return [...runs.keys()].filter((r) => !pieces.has(r));
    };
    let worker: WorkerProcess = await stack.spawnWorker();
    const interrupted: string[] = [];
    for (let kill = 0; kill < 2; kill++) {
      // Let some segments finish, then kill while one is inside its frame path.
      await until(
        `${3 * (kill + 1)} segments recorded`,
        async () => (await stack.ledger.segments.pieces(jobKey)).size >= 3 * (kill + 1),
        240_000,
      );
      await until("a segment in its frame path", async () => (await inFlight()).length > 0, 60_000);
      await sleep(Math.random() * 300);
      await worker.kill();
      // The worker is dead: what it started and did not record was interrupted.
      const lost = await inFlight();
      expect(lost.length, `kill ${kill + 1} interrupted ${lost.join(", ")}`).toBeLessThanOrEqual(1);
      interrupted.push(...lost);
      worker = await stack.spawnWorker();
    }
    expect(interrupted.length).toBeGreaterThanOrEqual(1); // the kills landed mid-segment

    expect(await stack.waitDone(batchId, 600_000)).toEqual({ pending: 0, running: 0, succeeded: 1, failed: 0 });
    await stack.verifyOutputs(batchId);
    const runs = await stack.ledger.segments.runs(jobKey);
    expect(runs.size).toBe(SEGMENTS);
    const total = [...runs.values()].reduce((a, b) => a + b, 0);
    expect(total).toBe(SEGMENTS + interrupted.length);
    console.info(`segment runs ${total} = ${SEGMENTS} + ${interrupted.length} interrupted (${interrupted.join(", ")})`);
    for (const [range, n] of runs)
      expect(n, `runs of segment ${range}`).toBe(1 + interrupted.filter((r) => r === range).length);

    const result = await stack.ledger.jobs.getResult(jobKey);
    const file = await stack.download(result?.key as string, path.join(stack.infra.dir, "stitched.mp4"));
    expect(stitchProblems(await probeStitched(file), SECONDS * FPS, FPS)).toEqual([]);
  });
});
