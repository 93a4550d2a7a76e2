import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { type DevStack, startDevStack } from "@mediaq/cli";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchChromium } from "../harness/browser.ts";
import { type FaceFootage, makeFaceFootage, makeSpeech } from "../harness/face-footage.ts";

const run = promisify(execFile);
const MEDIAQ = path.resolve(import.meta.dirname, "../../packages/cli/bin/mediaq.js");

/** A face that walks out of the frame: the CLI and the web page say in how many frames there was none. */
describe("frames without a face, as a user sees them", () => {
  let stack: DevStack;
  let dir: string;
  let browser: Browser;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "mediaq-face-"));
    stack = await startDevStack({ dataDir: path.join(dir, "stack") });
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await stack?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it("mediaq submit --wait, mediaq status and the web page show 'no face in N of M frames'", async () => {
    const folder = path.join(dir, "inbox");
    fs.mkdirSync(folder);
    // 2 s at 25 fps: the portrait is in view for the first second, then out to the right.
    const footage: FaceFootage = {
      width: 320,
      height: 180,
      fps: 25,
      seconds: 2,
      path: [
        { t: 0, x: 60, y: 0, size: 180 },
        { t: 0.8, x: 60, y: 0, size: 180 },
        { t: 1.2, x: 340, y: 0, size: 180 },
      ],
    };
    makeFaceFootage(path.join(folder, "astronaut.mp4"), footage);
    makeSpeech(path.join(folder, "astronaut.wav"), "Hello from orbit.");
    const env = { ...process.env, MEDIAQ_API_URL: stack.apiUrl, MEDIAQ_API_KEY: stack.apiKey };
    const submitted = await run(process.execPath, [MEDIAQ, "submit", folder, "--model", "demo", "--wait"], { env });
    expect(submitted.stderr).toMatch(/#0 astronaut\.mp4: no face in \d+ of 50 frames \(passed through unchanged\)/);
    const batchId = /batch ([0-9a-f-]{36})/.exec(submitted.stderr)?.[1] as string;

    const status = await run(process.execPath, [MEDIAQ, "status", batchId], { env });
    const missing = Number(/no face in (\d+) of 50 frames/.exec(status.stdout)?.[1]);
    // Out of view from 1.2 s (frame 30) on; the frames while it leaves may also lack a face.
    expect(missing).toBeGreaterThanOrEqual(20);
    expect(missing).toBeLessThan(50);

    const page = await browser.newPage();
    await page.goto(stack.apiUrl);
    await page.getByLabel("API key").fill(stack.apiKey);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.click(`a[href="#/batches/${batchId}"]`);
    await expect
      .poll(() => page.locator("#item-rows").innerText(), { timeout: 30_000 })
      .toContain(`no face in ${missing} of 50 frames`);
    await page.close();
  }, 300_000);
});
