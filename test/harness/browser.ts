import { type Browser, chromium, type Page } from "playwright-core";

/** The system Chromium (installed by scripts/setup.sh), headless, quiet, loopback only. */
export async function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}

/**
 * A new page of `browser` signed in to the web page at `apiUrl` with `apiKey`, on its Submit
 * tab; `errors` collects the page's uncaught errors.
 */
export async function openSubmitPage(
  browser: Browser,
  apiUrl: string,
  apiKey: string,
): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.newPage();
  const errors: string[] = [];
  page.on("pageerror", (err) => errors.push(err.message));
  await page.goto(apiUrl);
  await page.getByLabel("API key").fill(apiKey);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("link", { name: "Submit", exact: true }).click();
  return { page, errors };
}
