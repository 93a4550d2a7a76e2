import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { astronautPng } from "./astronaut.ts";

describe("astronautPng (the demo's and the tests' face)", () => {
  const path0 = process.env.PATH;
  afterEach(() => {
    process.env.PATH = path0;
  });

  it("uses the cached portrait without fetching, and says why when it cannot fetch one", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "astronaut-"));
    try {
      // No apt-get on the PATH: nothing can be fetched.
      process.env.PATH = path.join(dir, "no-tools");
      expect(() => astronautPng(path.join(dir, "empty"))).toThrow(
        /could not fetch the astronaut portrait: "apt-get download python3-skimage" failed/,
      );
      fs.mkdirSync(path.join(dir, "cached"));
      fs.writeFileSync(path.join(dir, "cached", "astronaut.png"), "png");
      expect(astronautPng(path.join(dir, "cached"))).toBe(path.join(dir, "cached", "astronaut.png"));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
