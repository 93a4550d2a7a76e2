import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { type DevStack, startDevStack } from "@mediaq/cli";
import { idempotencyKey, sha256Hex, submissionBody } from "@mediaq/shared";
import type { Browser, BrowserContext, Page, Request } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchChromium } from "../harness/browser.ts";
import { makeAudio, makeVideo } from "../harness/media.ts";

const run = promisify(execFile);
const ARTIFACTS = path.resolve(import.meta.dirname, "../artifacts");
/** The generated clips are a test pattern with no face: the page's box override crops this. */
const BOX = "40, 30, 80, 70";

/**
 * The web page in headless Chromium against `mediaq dev`: follow a batch made by the API;
 * submit a folder (pairing, hashing,
 * presigned uploads), watch it finish, play an output, download a verified part; resume an
 * interrupted upload after a reload; page through a 10,000-item batch.
 */
describe("web page", () => {
  let stack: DevStack;
  let browser: Browser;
  let dir: string;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "mediaq-web-"));
    stack = await startDevStack({ dataDir: path.join(dir, "stack") });
    browser = await launchChromium();
    fs.mkdirSync(ARTIFACTS, { recursive: true });
  });
  afterAll(async () => {
    await browser?.close();
    await stack?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  async function signedIn(): Promise<{ context: BrowserContext; page: Page; errors: string[] }> {
    const context = await browser.newContext({ acceptDownloads: true, viewport: { width: 1200, height: 900 } });
    const page = await context.newPage();
    const errors: string[] = [];
    page.on("pageerror", (err) => errors.push(err.message));
    page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
    await page.goto(stack.apiUrl);
    await page.getByLabel("API key").fill(stack.apiKey);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.locator("#batch-rows").waitFor({ state: "attached" });
    return { context, page, errors };
  }

  /** Waits for the batch page's bar to reach 100 % and `succeeded` rows; says what the page showed if not. */
  async function untilFinished(page: Page, succeeded: number, errors: string[]): Promise<void> {
    await page.waitForFunction(
      () => (document.getElementById("batch-progress") as HTMLProgressElement)?.value === 100,
      undefined,
      { timeout: 120_000 },
    );
    await expect
      .poll(() => page.locator(".state-succeeded").count(), { timeout: 15_000 })
      .toBe(succeeded)
      .catch(async (err) => {
        throw new Error(`${err.message}\npage errors: ${errors.join("; ")}\n${await page.locator("main").innerText()}`);
      });
  }

  /** PUTs S3 accepted from the browser, by the SHA-256 in their presigned staging key. */
  function countPuts(page: Page): Map<string, number> {
    const puts = new Map<string, number>();
    page.on("requestfinished", async (r: Request) => {
      const sha = /\/([0-9a-f]{64})-\d+-[0-9a-f]{32}/.exec(r.url())?.[1];
      if (r.method() === "PUT" && sha && ((await r.response())?.status() ?? 0) < 300)
        puts.set(sha, (puts.get(sha) ?? 0) + 1);
    });

    return puts;
  }

  it("drops a folder of three pairs and a stray, submits it, plays an output, downloads a verified part", async () => {
    const folder = path.join(dir, "takes");
    fs.mkdirSync(folder);
    for (const [i, name] of ["anna", "ben", "cleo"].entries()) {
      await makeVideo(path.join(folder, `${name}.mp4`), { seconds: 2, frequency: 500 + 60 * i });
      await makeAudio(path.join(folder, `${name}.wav`), { seconds: 2, frequency: 200 + 30 * i });
    }
    await makeVideo(path.join(folder, "stray.mp4"), { seconds: 1, frequency: 900 });
    const { context, page, errors } = await signedIn();
    const puts = countPuts(page);
    await page.getByRole("link", { name: "Submit", exact: true }).click();

    // Drop the folder's files on the drop zone, as a drag from the file manager delivers them.
    const files = fs.readdirSync(folder).map((name) => ({
      name,
      base64: fs.readFileSync(path.join(folder, name)).toString("base64"),
    }));
    const dataTransfer = await page.evaluateHandle((list) => {
      const dt = new DataTransfer();
      for (const f of list) dt.items.add(new File([Uint8Array.from(atob(f.base64), (c) => c.charCodeAt(0))], f.name));
      return dt;
    }, files);
    await page.locator("#drop").dispatchEvent("drop", { dataTransfer });

    await expect.poll(() => page.locator("#plan-rows tr").count()).toBe(3);
    expect(await page.locator("#refused li").allTextContents()).toEqual([
      "stray.mp4: no audio named stray.wav, .mp3 or .m4a",
    ]);
    await page.getByLabel("Face box override").fill(BOX);
    await page.screenshot({ path: path.join(ARTIFACTS, "web-submit.png"), fullPage: true });

    await page.getByRole("button", { name: "Upload and submit" }).click();
    await page.waitForURL(/#\/batches\/[\w-]+$/, { timeout: 60_000 });
    const batchId = page.url().split("#/batches/")[1] as string;
    // Six blobs, each PUT once, straight to S3; the stray was never sent.
    expect([...puts.values()]).toEqual([1, 1, 1, 1, 1, 1]);
    expect(puts.has(sha256Hex(fs.readFileSync(path.join(folder, "stray.mp4"))))).toBe(false);

    // The page used the CLI's Idempotency-Key: the same manifest from Node finds its batch.
    const sha = (f: string) => sha256Hex(fs.readFileSync(path.join(folder, f)));
    const body = submissionBody({
      model: "demo",
      params: { length: "audio", loop: "pingpong", box: [40, 30, 80, 70] },
      items: ["anna", "ben", "cleo"].map((n) => ({ name: `${n}.mp4`, video: sha(`${n}.mp4`), audio: sha(`${n}.wav`) })),
    });
    const again = await stack.client.createBatch(body, await idempotencyKey(body, sha256Hex));
    expect(again.id).toBe(batchId);

    await untilFinished(page, 3, errors);
    // Every finished item shows its poster, a JPEG the worker stored beside the output.
    await expect
      .poll(() =>
        page.$$eval("img.poster", (imgs) => imgs.filter((i) => (i as HTMLImageElement).naturalWidth > 0).length),
      )
      .toBe(3);
    await page.screenshot({ path: path.join(ARTIFACTS, "web-batch-thumbnails.png"), fullPage: true });

    // Inline playback from a presigned URL: the video loads and its time advances.
    await page.getByRole("button", { name: "Play" }).first().click();
    await page.waitForFunction(
      () => (document.getElementById("player-video") as HTMLVideoElement).readyState >= 2,
      undefined,
      { timeout: 20_000 },
    );
    const t0 = await page.$eval("#player-video", (v) => (v as HTMLVideoElement).currentTime);
    await page.waitForFunction(
      (start) => (document.getElementById("player-video") as HTMLVideoElement).currentTime > start + 0.2,
      t0,
      { timeout: 20_000 },
    );
    await expect.poll(() => page.locator("#player-duration").textContent()).toMatch(/^\d+\.\d\d s$/);
    const items = (await stack.client.listItems(batchId, { limit: 10 })).items;
    const first = items.find((i) => i.index === 0);
    expect(await page.locator("#player-sha256").textContent()).toBe(first?.output?.sha256);
    await page.screenshot({ path: path.join(ARTIFACTS, "web-player.png"), fullPage: true });

    // Package, download a part and check it against the SHA-256 the page shows.
    await page.getByRole("button", { name: "Package and download" }).click();
    const partLink = page.locator("#part-rows a").first();
    await partLink.waitFor({ timeout: 90_000 });
    const shownSha = (await page.locator("#part-rows td.hash").first().textContent())?.trim();
    const [download] = await Promise.all([page.waitForEvent("download"), partLink.click()]);
    const saved = path.join(dir, download.suggestedFilename());
    await download.saveAs(saved);
    expect(sha256Hex(fs.readFileSync(saved))).toBe(shownSha);

    // Copy links: a plain text block with the links and SHA256SUMS lines.
    await page.getByRole("button", { name: "Copy links" }).click();
    const text = await page.locator("#links-text").inputValue();
    expect(text).toContain(`${shownSha}  ${download.suggestedFilename()}`);
    expect(text).toContain(`${download.suggestedFilename()} (`);
    expect(text).toMatch(/links expire \d{4}-\d\d-\d\dT/);
    expect(errors).toEqual([]);
    await context.close();
  });

  it("resumes after a reload in the middle of a large upload, never re-sending finished files", async () => {
    const folder = path.join(dir, "long");
    fs.mkdirSync(folder);
    await makeVideo(path.join(folder, "short.mp4"), { seconds: 2, frequency: 610 });
    await makeAudio(path.join(folder, "short.wav"), { seconds: 2, frequency: 250 });
    await makeVideo(path.join(folder, "long.mp4"), { seconds: 2, frequency: 640 });
    // 48 kHz stereo 16-bit for 150 s: about 29 MB.
    const big = path.join(folder, "long.wav");
    await run("ffmpeg", [
      "-v",
      "error",
      "-y",
      "-f",
      "lavfi",
      "-i",
      "sine=frequency=330:duration=150:sample_rate=48000",
      "-ac",
      "2",
      big,
    ]);
    const bigSha = sha256Hex(fs.readFileSync(big));
    const { context, page, errors } = await signedIn();
    const puts = countPuts(page);

    // The large file's PUT is held (never answered) until the page reloads: a deterministic
    // interruption, no timing race. Every other request goes through.
    let heldPut: () => void = () => {};
    const held = new Promise<void>((resolve) => {
      heldPut = resolve;
    });
    await page.route(`${stack.s3.endpoint}/**`, async (route) => {
      if (route.request().method() === "PUT" && route.request().url().includes(bigSha)) {
        heldPut();
        return; // left unanswered; the reload cancels it
      }
      await route.continue();
    });

    await page.getByRole("link", { name: "Submit", exact: true }).click();
    await page.locator("#pick-folder").setInputFiles(folder);
    await expect.poll(() => page.locator("#plan-rows tr").count()).toBe(2);
    await page.getByLabel("Length").selectOption("video");
    await page.getByLabel("Face box override").fill(BOX);
    await page.getByRole("button", { name: "Upload and submit" }).click();
    await held;
    const state = (file: string) => page.locator(`#file-rows tr[data-file="long/${file}"] .file-state`);
    for (const f of ["short.mp4", "short.wav", "long.mp4"])
      await expect.poll(() => state(f).textContent()).toBe("uploaded");
    expect(await state("long.wav").textContent()).toMatch(/^uploading/);
    const before = new Map(puts);

    await page.unroute(`${stack.s3.endpoint}/**`);
    await page.reload();
    await page.locator("#pick-folder").setInputFiles(folder);
    await page.getByLabel("Length").selectOption("video");
    await page.getByLabel("Face box override").fill(BOX);
    await page.getByRole("button", { name: "Upload and submit" }).click();
    await page.waitForURL(/#\/batches\/[\w-]+$/, { timeout: 60_000 }).catch(async (err) => {
      throw new Error(`${err.message}\npage errors: ${errors.join("; ")}\n${await page.locator("main").innerText()}`);
    });
    // After the reload only the large file went out again; the finished three were not re-sent.
    const after = [...puts].map(([sha, n]) => [sha, n - (before.get(sha) ?? 0)]);
    expect(after.filter(([, n]) => Number(n) > 0)).toEqual([[bigSha, 1]]);
    await untilFinished(page, 2, errors);
    await context.close();
  });

  it("renders the first page of a 10,000-item batch (script time measured and printed)", async () => {
    const video = path.join(dir, "p.mp4");
    const audio = path.join(dir, "p.wav");
    await makeVideo(video, { seconds: 1, frequency: 700 });
    await makeAudio(audio, { seconds: 1, frequency: 300 });
    const inputs = {
      video: (await stack.client.putBlobFile(video)).sha256,
      audio: (await stack.client.putBlobFile(audio)).sha256,
    };
    const items = Array.from({ length: 10_000 }, (_, i) => ({ name: `n-${String(i).padStart(5, "0")}.mp4`, inputs }));
    const batch = await stack.client.createBatch({ model: "demo", items, params: { box: [40, 30, 80, 70] } });
    expect(batch.total).toBe(10_000);

    const { context, page, errors } = await signedIn();
    const cdp = await context.newCDPSession(page);
    await cdp.send("Performance.enable");
    // ScriptDuration: JavaScript on the main thread; TaskDuration: all its work (layout included).
    const metrics = async () => {
      const m = (await cdp.send("Performance.getMetrics")).metrics;
      const get = (name: string) => m.find((x) => x.name === name)?.value ?? Number.NaN;
      return { script: get("ScriptDuration"), task: get("TaskDuration") };
    };
    const start = await metrics();
    await page.evaluate((id) => {
      location.hash = `#/batches/${id}`;
    }, batch.id);
    await expect.poll(() => page.locator("#item-rows tr").count(), { timeout: 20_000 }).toBe(100);
    const end = await metrics();
    const script = (end.script - start.script) * 1000;
    const task = (end.task - start.task) * 1000;
    console.log(
      `10,000-item batch: first page of 100 rows rendered with ${script.toFixed(1)} ms of script time (${task.toFixed(1)} ms of main-thread work)`,
    );
    expect(Number.isFinite(script) && Number.isFinite(task)).toBe(true);
    expect(await page.locator("#page-info").textContent()).toBe("items 0–99");

    await page.getByRole("button", { name: "Next" }).click();
    await expect.poll(() => page.locator("#page-info").textContent()).toBe("items 100–199");
    await page.getByLabel("Show").selectOption("failed");
    await expect
      .poll(() => page.locator("#item-rows tr").count(), { timeout: 20_000 })
      .toBe(0)
      .catch(async (err) => {
        throw new Error(`${err.message}\n${(await page.locator("main").innerText()).slice(0, 1500)}`);
      });
    expect(errors).toEqual([]);
    await context.close();
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

    const { context, page, errors: pageErrors } = await signedIn();
    await expect.poll(() => page.locator(`a[href="#/batches/${batch.id}"]`).count()).toBe(1);
    await page.click(`a[href="#/batches/${batch.id}"]`);

    // The bar moves with Server-Sent Events until every item succeeded.
    await untilFinished(page, 3, pageErrors);

    await page.getByRole("button", { name: "Package and download" }).click();
    const partLink = page.locator("#part-rows a").first();
    await partLink.waitFor({ timeout: 60_000 });
    const expectedSha = (await page.locator("#part-rows td.hash").first().textContent())?.trim();
    const [download] = await Promise.all([page.waitForEvent("download"), partLink.click()]);
    const saved = path.join(dir, download.suggestedFilename());
    await download.saveAs(saved);
    expect(download.suggestedFilename()).toMatch(/-part-001-of-\d{3}\.zip$/);
    expect(sha256Hex(fs.readFileSync(saved))).toBe(expectedSha);

    await page.screenshot({ path: path.join(ARTIFACTS, "web-batch.png"), fullPage: true });
    await context.close();
  });
});
