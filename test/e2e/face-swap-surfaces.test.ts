import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { type DevStack, startDevStack } from "@mediaq/cli";
import { computeJobKey, normalizeParams, sha256Hex } from "@mediaq/shared";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeDemoSwapModels } from "../../packages/worker/scripts/face-swap-models.ts";
import { launchChromium, openSubmitPage } from "../harness/browser.ts";
import { makeVideo } from "../harness/media.ts";

const run = promisify(execFile);
const MEDIAQ = path.resolve(import.meta.dirname, "../../packages/cli/bin/mediaq.js");

/**
 * The web page's face-swap mode in headless Chromium against `mediaq dev`: a source face
 * picked, videos dropped, the swapper and recognizer picked from the registered models; what
 * the API recorded is checked (not the swap itself, which the worker tests cover).
 */
describe("web page: face swap", () => {
  let stack: DevStack;
  let dir: string;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "mediaq-web-swap-"));
    stack = await startDevStack({ dataDir: path.join(dir, "stack") });
    const models = writeDemoSwapModels(path.join(dir, "models"));
    await stack.client.putModelFile(models.swapper, { tag: "swapper", adapter: "inswapper" });
    await stack.client.putModelFile(models.recognizer, { tag: "recognizer", adapter: "arcface" });
    for (const [i, name] of ["b-clip.mp4", "a-clip.mp4"].entries())
      await makeVideo(path.join(dir, name), { seconds: 1, frequency: 400 + 100 * i });
    await run("ffmpeg", [
      ...["-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=64x64", "-frames:v", "1"],
      path.join(dir, "face.png"),
    ]);
  });
  afterAll(async () => {
    await stack?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it("submits items {video, face} with the picked swapper as the model and the recognizer's hash", async () => {
    const browser = await launchChromium();
    try {
      const { page, errors } = await openSubmitPage(browser, stack.apiUrl, stack.apiKey);
      await page.locator('input[name="mode"][value="swap"]').check();
      // Only models of each adapter are offered (the stack's demo wav2lip model is neither).
      await expect.poll(() => page.locator("#swapper option").allTextContents()).toEqual(["swapper"]);
      await expect.poll(() => page.locator("#recognizer option").allTextContents()).toEqual(["recognizer"]);
      expect(await page.getByRole("heading", { name: "Settings" }).isVisible()).toBe(false);
      await page.locator("#pick-files").setInputFiles(["b-clip.mp4", "a-clip.mp4"].map((f) => path.join(dir, f)));
      // Without a source face nothing is planned, and the page says why.
      await expect.poll(() => page.locator("#refused").innerText()).toContain("pick a source face image");
      expect(await page.getByRole("button", { name: "Upload and submit" }).isDisabled()).toBe(true);
      await page.getByLabel("Source face (PNG or JPEG)").setInputFiles(path.join(dir, "face.png"));
      await expect.poll(() => page.locator("#plan-rows tr").count()).toBe(2);
      expect(await page.locator("#plan-rows tr td:first-child").allTextContents()).toEqual([
        "a-clip.mp4",
        "b-clip.mp4",
      ]);
      await page.getByRole("button", { name: "Upload and submit" }).click();
      await page.waitForURL(/#\/batches\/[\w-]+$/, { timeout: 60_000 });
      expect(errors).toEqual([]);
      const batchId = page.url().split("#/batches/")[1] as string;

      const sha = (f: string) => sha256Hex(fs.readFileSync(path.join(dir, f)));
      const swapper = sha("models/demo-inswapper.onnx");
      const recognizer = sha("models/demo-arcface.onnx");
      expect((await stack.client.getBatch(batchId)).model).toBe(swapper);
      // An item's job key is the hash of its model, inputs and params as the API recorded them
      // (docs/architecture.md#content-addressing): {video, face} and the recognizer's SHA-256.
      const listed = (await stack.client.listItems(batchId)).items;
      expect(listed.map((i) => ({ name: i.name, jobKey: i.jobKey }))).toEqual(
        ["a-clip.mp4", "b-clip.mp4"].map((name) => ({
          name,
          jobKey: computeJobKey({
            scope: stack.tenant,
            modelSha256: swapper,
            adapter: "inswapper",
            inputs: { video: sha(name), face: sha("face.png") },
            params: normalizeParams("inswapper", { recognizer }),
          }),
        })),
      );
    } finally {
      await browser.close();
    }
  }, 120_000);
});

/** `mediaq demo --swap` as a user runs it: its own stack, the astronaut portrait, the demo swap models. */
describe("mediaq demo --swap", () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "mediaq-demo-swap-"));
  });
  afterAll(() => {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it("runs from a fresh data dir: every item swapped, a ready package, its processes gone", async () => {
    const dataDir = path.join(dir, "data");
    const { stdout } = await run(process.execPath, [MEDIAQ, "demo", "--swap", "--data-dir", dataDir, "--items", "2"], {
      maxBuffer: 16 * 1024 * 1024,
    });
    expect(stdout).toContain("uploaded 2 face clips and the source face");
    expect(stdout).toMatch(/batch [\w-]+: 2 items/);
    // Both swapped, the face found on every frame (a frame without one would be noted: "no face in N of M frames").
    expect(stdout).toMatch(/batch [\w-]+: 2 succeeded, 0 failed/);
    expect(stdout).not.toContain("failed:");
    expect(stdout).not.toContain("no face");
    expect(stdout).toMatch(/-part-001-of-001\.zip\s+[\d.]+ KiB\s+sha256 [0-9a-f]{64}/);
    expect(stdout).toContain("manifest.json");
    expect(stdout).toContain("SHA256SUMS");
    // The portrait was fetched into the data dir's cache.
    expect(fs.existsSync(path.join(dataDir, "cache", "demo", "astronaut.png"))).toBe(true);
    const { stdout: procs } = await run("ps", ["-eo", "args"]);
    expect(procs).not.toContain(dataDir);
  }, 300_000);
});
