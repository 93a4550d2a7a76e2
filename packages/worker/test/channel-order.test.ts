import { execFile } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodeAll, makeAudio } from "../../../test/harness/media.ts";
import { buildChannelProbeModel } from "../scripts/test-models.ts";
import { startWorker, type WorkerHandle } from "../src/index.ts";
import { startWorkerHarness, type WorkerHarness } from "./helpers.ts";

const run = promisify(execFile);
const SIZE = 64;

describe("the registered channel order reaches the model", () => {
  let h: WorkerHarness;
  let worker: WorkerHandle;
  const blobs: Record<string, string> = {};
  const f = (n: string) => path.join(h.infra.dir, n);

  beforeAll(async () => {
    h = await startWorkerHarness();
    await run("ffmpeg", [
      ...["-v", "error", "-y", "-f", "lavfi", "-i", `color=c=red:s=${SIZE}x${SIZE}:r=25:d=1`],
      ...["-c:v", "libx264", "-preset", "ultrafast", "-crf", "0", "-pix_fmt", "yuv444p", f("red.mp4")],
    ]);
    await makeAudio(f("a.wav"), { seconds: 1 });
    blobs.red = await h.putFile(f("red.mp4"));
    blobs.audio = await h.putFile(f("a.wav"));
    // Returns the face tensor's first channel as grey: black if it held blue, white if red.
    blobs.probe = await h.putBlob(Buffer.from(buildChannelProbeModel()));
    worker = await startWorker(h.config());
  }, 60_000);
  afterAll(async () => {
    await worker?.close();
    await h?.stop();
  });

  const centre = async (jobKey: string, name: string) => {
    const { frames } = await decodeAll(await h.downloadOutput(jobKey, name));
    const p = ((SIZE / 2) * SIZE + SIZE / 2) * 3;
    return Array.from((frames[0] as Buffer).subarray(p, p + 3));
  };

  it("bgr (the wav2lip default): channel 0 holds blue; rgb: channel 0 holds red", async () => {
    // The crop is the whole frame (a plain red frame has no face to detect).
    const params = { box: [0, 0, SIZE, SIZE] };
    const item = { name: "red", video: blobs.red as string, audio: blobs.audio as string, params };
    const bgr = await h.submit(blobs.probe as string, [item]); // no order registered: the adapter's (bgr)
    const rgb = await h.submit(blobs.probe as string, [item], { channels: "rgb" });
    expect(bgr.items[0]?.jobKey).not.toBe(rgb.items[0]?.jobKey);
    expect(await h.waitDone(bgr.batchId)).toMatchObject({ succeeded: 1 });
    expect(await h.waitDone(rgb.batchId)).toMatchObject({ succeeded: 1 });
    const [bgrPixel, rgbPixel] = [
      await centre(bgr.items[0]?.jobKey as string, "bgr.mp4"),
      await centre(rgb.items[0]?.jobKey as string, "rgb.mp4"),
    ];
    // Blue of a red pixel is ~0: the whole crop comes back black. Red is ~255: white.
    for (const v of bgrPixel as number[]) expect(v, `bgr ${bgrPixel}`).toBeLessThan(30);
    for (const v of rgbPixel as number[]) expect(v, `rgb ${rgbPixel}`).toBeGreaterThan(225);
  });
});
