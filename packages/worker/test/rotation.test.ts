import { execFile } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  decodeAll,
  makeAudio,
  makeMirroredVideo,
  makeRotatedVideo,
  markerAt,
  ROTATION_MARKERS,
} from "../../../test/harness/media.ts";
import { DEMO_MODEL_PATH } from "../scripts/make-demo-model.ts";
import { startWorker, type WorkerHandle } from "../src/index.ts";
import { startWorkerHarness, type WorkerHarness } from "./helpers.ts";

const run = promisify(execFile);
// Displayed (upright) size of the phone-style clips; they are stored 128x72.
const W = 72;
const H = 128;
// Keep the model's mouth away from the markers.
const BOX = [24, 20, 40, 40];

describe("rotated inputs come out upright", () => {
  let h: WorkerHarness;
  let worker: WorkerHandle;
  const blobs: Record<string, string> = {};
  const f = (n: string) => path.join(h.infra.dir, n);

  beforeAll(async () => {
    h = await startWorkerHarness();
    await makeRotatedVideo(f("matrix90.mp4"), { clockwise: 90, via: "matrix", seconds: 1 });
    await makeRotatedVideo(f("tag90.mkv"), { clockwise: 90, via: "tag", seconds: 1 });
    await makeRotatedVideo(f("matrix270.mp4"), { clockwise: 270, via: "matrix", seconds: 1 });
    await makeMirroredVideo(f("mirror.mp4"));
    await makeAudio(f("a.wav"), { seconds: 1 });
    for (const n of ["matrix90.mp4", "tag90.mkv", "matrix270.mp4", "mirror.mp4", "a.wav"])
      blobs[n] = await h.putFile(f(n));
    blobs.model = await h.putFile(DEMO_MODEL_PATH);
    worker = await startWorker(h.config());
  }, 60_000);
  afterAll(async () => {
    await worker?.close();
    await h?.stop();
  });

  it("a phone clip stored sideways (display matrix or legacy rotate tag) is output upright at its displayed size", async () => {
    const names = ["matrix90.mp4", "tag90.mkv", "matrix270.mp4"];
    const { batchId, items } = await h.submit(
      blobs.model as string,
      names.map((n) => ({ name: n, video: blobs[n] as string, audio: blobs["a.wav"] as string, params: { box: BOX } })),
    );
    expect(await h.waitDone(batchId)).toMatchObject({ succeeded: 3 });
    for (const item of items) {
      const out = await h.downloadOutput(item.jobKey, `out-${item.name}.mp4`);
      // Stored upright: the output's own frame size is the displayed one, with no rotation to apply.
      const { stdout } = await run("ffprobe", [
        ...["-v", "error", "-select_streams", "v:0", "-show_entries", "stream=width,height:stream_side_data"],
        ...["-of", "json", out],
      ]);
      const stream = JSON.parse(stdout).streams[0];
      expect({ width: stream.width, height: stream.height }, item.name).toEqual({ width: W, height: H });
      expect(stream.side_data_list, item.name).toBeUndefined();
      const { frames } = await decodeAll(out);
      const { red, green } = ROTATION_MARKERS;
      for (const frame of [frames[0], frames[frames.length - 1]] as Buffer[]) {
        expect(markerAt(frame, W, red.x + 8, red.y + 8), item.name).toBe("red");
        expect(markerAt(frame, W, green.x + 8, H - green.yFromBottom + 8), item.name).toBe("green");
        expect(markerAt(frame, W, W - 10, 10), item.name).toBe("grey");
        expect(markerAt(frame, W, W - 10, H - 10), item.name).toBe("grey");
      }
    }
  });

  it("a mirrored display matrix fails the item with its reason", async () => {
    const { batchId } = await h.submit(blobs.model as string, [
      { name: "mirror", video: blobs["mirror.mp4"] as string, audio: blobs["a.wav"] as string },
    ]);
    expect(await h.waitDone(batchId)).toMatchObject({ failed: 1 });
    const [view] = await h.ledger.batches.itemViews(batchId, 0, 1);
    expect(view?.error).toMatch(
      /^video input [0-9a-f]{12} cannot be shown upright: its display matrix mirrors the picture \(a flip\)/,
    );
  });
});
