import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { type DevStack, startDevStack } from "@mediaq/cli";
import { sha256Hex } from "@mediaq/shared";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchChromium } from "../harness/browser.ts";
import { makeAudio, makeVideo } from "../harness/media.ts";

const ARTIFACTS = path.resolve(import.meta.dirname, "../artifacts");

/** The web page in headless Chromium: live progress, packaging, a real download. */
describe("web page", () => {
  let stack: DevStack;
  let browser: Browser;
  let dir: string;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "mediaq-web-"));
    stack = await startDevStack({ dataDir: path.join(dir, "stack") });
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await stack?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it("follows a batch to 100 %, packages it and downloads a verified part", async () => {
    // Seed a batch through the API; the page is only watched and clicked.
    const items = [];
    for (let i = 0; i < 3; i++) {
      const video = path.join(dir, `v${i}.mp4`);
      const audio = path.join(dir, `a${i}.wav`);
      await makeVideo(video, { seconds: 2, frequency: 600 + 70 * i });
      await makeAudio(audio, { seconds: 2, frequency: 210 + 20 * i });
      const [v, a] = [await stack.client.putBlobFile(video), await stack.client.putBlobFile(audio)];
      items.push({ name: `take-${i}.mp4`, inputs: { video: v.sha256, audio: a.sha256 } });
    }
    const batch = await stack.client.createBatch({ model: "demo", items, params: { box: [40, 30, 80, 70] } });

    const context = await browser.newContext({ acceptDownloads: true, viewport: { width: 1200, height: 900 } });
    const page = await context.newPage();
    const pageErrors: string[] = [];
    page.on("pageerror", (err) => pageErrors.push(err.message));
    page.on("console", (m) => m.type() === "error" && pageErrors.push(m.text()));
    await page.goto(stack.apiUrl);
    await page.getByLabel("API key").fill(stack.apiKey);
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect.poll(() => page.locator(`a[href="#/batches/${batch.id}"]`).count()).toBe(1);
    await page.click(`a[href="#/batches/${batch.id}"]`);

    // The bar moves with Server-Sent Events until every item succeeded.
    await page.waitForFunction(
      () => (document.getElementById("batch-progress") as HTMLProgressElement)?.value === 100,
      undefined,
      { timeout: 90_000 },
    );
    await expect
      .poll(() => page.locator(".state-succeeded").count(), { timeout: 10_000 })
      .toBe(3)
      .catch(async (err) => {
        await page.screenshot({ path: path.join(dir, "failed.png") });
        throw new Error(
          `${err.message}\npage errors: ${pageErrors.join("; ")}\n${await page.locator("main").innerText()}`,
        );
      });

    await page.getByRole("button", { name: "Package and download" }).click();
    const partLink = page.locator("#part-rows a").first();
    await partLink.waitFor({ timeout: 60_000 });
    const expectedSha = (await page.locator("#part-rows td.hash").first().textContent())?.trim();
    const [download] = await Promise.all([page.waitForEvent("download"), partLink.click()]);
    const saved = path.join(dir, download.suggestedFilename());
    await download.saveAs(saved);
    expect(download.suggestedFilename()).toMatch(/-part-001-of-\d{3}\.zip$/);
    expect(sha256Hex(fs.readFileSync(saved))).toBe(expectedSha);

    fs.mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: path.join(ARTIFACTS, "web-batch.png"), fullPage: true });
    await context.close();
  });
});
