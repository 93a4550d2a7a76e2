import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

/**
 * The scikit-image astronaut portrait (a public-domain NASA photo, shipped in Debian's
 * python3-skimage package): a real face for the face detector, for `mediaq demo --swap` and
 * the tests' face footage. Fetched once into `cacheDir` with `apt-get download python3-skimage`
 * + `dpkg-deb -x` (no Python needed).
 */
export function astronautPng(cacheDir: string): string {
  const file = path.join(cacheDir, "astronaut.png");
  if (fs.existsSync(file)) return file;
  fs.mkdirSync(cacheDir, { recursive: true });
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "skimage-"));
  try {
    try {
      execFileSync("apt-get", ["download", "python3-skimage"], { cwd: tmp, stdio: "pipe" });
    } catch (err) {
      const stderr = (err as { stderr?: Buffer }).stderr?.toString().trim();
      throw new Error(
        `could not fetch the astronaut portrait: "apt-get download python3-skimage" failed` +
          `${stderr ? ` (${stderr})` : ""}; it needs Debian's package archive (run apt-get update first)`,
      );
    }
    const deb = fs.readdirSync(tmp).find((f) => f.endsWith(".deb"));
    if (!deb) throw new Error("apt-get download python3-skimage produced no .deb");
    execFileSync("dpkg-deb", ["-x", deb, "x"], { cwd: tmp });
    const found = execFileSync("find", ["x", "-path", "*skimage/data/astronaut.png"], { cwd: tmp }).toString().trim();
    if (!found) throw new Error("astronaut.png not found in python3-skimage");
    fs.copyFileSync(path.join(tmp, found.split("\n")[0] as string), `${file}.part`);
    fs.renameSync(`${file}.part`, file);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  return file;
}
