import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { readFaceSwap } from "./inputs.ts";

describe("readFaceSwap (mediaq submit <folder> --face face.jpg)", () => {
  const folder = (files: string[]) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "face-swap-inputs-"));
    for (const f of files) fs.writeFileSync(path.join(dir, f), "x");
    return dir;
  };

  it("takes every video of the folder, named after it, and nothing else", () => {
    const dir = folder(["b.mov", "a.mp4", "notes.txt", "a.wav", "face.jpg"]);
    expect(readFaceSwap(dir, path.join(dir, "face.jpg"))).toEqual([
      { name: "a.mp4", video: path.join(dir, "a.mp4") },
      { name: "b.mov", video: path.join(dir, "b.mov") },
    ]);
  });

  it("refuses a face that is not a PNG or JPEG, a missing face, and a folder without videos", () => {
    const dir = folder(["a.mp4", "face.gif", "face.png"]);
    expect(() => readFaceSwap(dir, path.join(dir, "face.gif"))).toThrow(/must be a \.png, \.jpg or \.jpeg image/);
    expect(() => readFaceSwap(dir, path.join(dir, "nope.jpg"))).toThrow(/no such file/);
    const empty = folder(["face.png"]);
    expect(() => readFaceSwap(empty, path.join(empty, "face.png"))).toThrow(/no videos/);
  });
});
