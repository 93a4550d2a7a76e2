import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchChromium } from "../harness/browser.ts";
import { type ApiProcess, KEY_A, startApiProcess } from "./api-process.ts";

const STORE = "mediaq.apiKey";

/** A page that records every console error and page error (CSP violations are console errors). */
async function openPage(context: BrowserContext, url: string, errors: string[]): Promise<Page> {
  const page = await context.newPage();
  page.on("pageerror", (err) => errors.push(err.message));
  page.on("console", (m) => m.type() === "error" && errors.push(`${m.text()} (${m.location().url})`));
  await page.goto(url);
  return page;
}

const stored = (page: Page) =>
  page.evaluate((k) => ({ session: sessionStorage.getItem(k), local: localStorage.getItem(k) }), STORE);

/** The web page in headless Chromium under its real headers. */
describe("security: the web page keeps the key where the user chose, under a strict CSP", () => {
  let t: ApiProcess;
  let browser: Browser;
  beforeAll(async () => {
    t = await startApiProcess();
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await t?.stop();
  });

  async function signIn(page: Page, remember: boolean) {
    await page.getByLabel("API key").fill(KEY_A);
    if (remember) await page.getByLabel("Remember me on this browser").check();
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.locator("#no-batches").waitFor({ state: "visible" });
  }

  it("keeps the key in sessionStorage by default: a new tab asks again", async () => {
    const errors: string[] = [];
    const context = await browser.newContext();
    const first = await openPage(context, t.url, errors);
    await signIn(first, false);
    expect(await stored(first)).toEqual({ session: KEY_A, local: null });
    const second = await openPage(context, t.url, errors);
    await second.locator("#signin").waitFor({ state: "visible" });
    expect(await stored(second)).toEqual({ session: null, local: null });
    expect(errors).toEqual([]);
    await context.close();
  });

  it('keeps the key in localStorage with "Remember me": a new tab is signed in; signing out forgets it', async () => {
    const errors: string[] = [];
    const context = await browser.newContext();
    const first = await openPage(context, t.url, errors);
    await signIn(first, true);
    expect(await stored(first)).toEqual({ session: null, local: KEY_A });
    const second = await openPage(context, t.url, errors);
    await second.locator("#no-batches").waitFor({ state: "visible" });
    await second.getByRole("button", { name: "Sign out" }).click();
    await second.locator("#signin").waitFor({ state: "visible" });
    expect(await stored(second)).toEqual({ session: null, local: null });
    expect(errors).toEqual([]);
    await context.close();
  });

  it("the browser enforces the policy: an injected inline script does not run; /docs renders under its own", async () => {
    const errors: string[] = [];
    const context = await browser.newContext();
    const page = await openPage(context, t.url, errors);
    await page.locator("#signin").waitFor({ state: "visible" });
    const ran = await page.evaluate(async () => {
      const script = document.createElement("script");
      script.textContent = "window.__injected = true";
      document.body.append(script);
      await new Promise((r) => setTimeout(r, 100));
      return (window as unknown as { __injected?: boolean }).__injected === true;
    });
    expect(ran).toBe(false);
    expect(errors.some((e) => e.includes("Content Security Policy"))).toBe(true);

    const docsErrors: string[] = [];
    const docs = await openPage(context, `${t.url}/docs`, docsErrors);
    await docs.locator(".swagger-ui .info .title").waitFor({ state: "visible", timeout: 30_000 });
    expect(await docs.locator(".opblock").count()).toBeGreaterThan(5);
    expect(docsErrors).toEqual([]);
    await context.close();
  });
});
