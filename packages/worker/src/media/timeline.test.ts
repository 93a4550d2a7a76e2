import { describe, expect, it } from "vitest";
import { outputFrameCount, passes, sourceIndex } from "./timeline.ts";

const indices = (total: number, n: number, loop: "pingpong" | "forward") =>
  Array.from({ length: total }, (_, i) => sourceIndex(i, n, loop));

/** The source indices the passes produce, for the first `total` output frames. */
function fromPasses(total: number, n: number, loop: "pingpong" | "forward"): number[] {
  const out: number[] = [];
  for (const pass of passes(n, loop)) {
    for (let k = 0; k < pass.count && out.length < total; k++) out.push(pass.first + k * pass.step);
    if (out.length >= total) return out;
  }
  return out;
}

describe("output timeline", () => {
  it("ping-pong: forward, then back without repeating the end frames, then forward again", () => {
    expect(indices(14, 5, "pingpong")).toEqual([0, 1, 2, 3, 4, 3, 2, 1, 0, 1, 2, 3, 4, 3]);
    expect(indices(6, 2, "pingpong")).toEqual([0, 1, 0, 1, 0, 1]);
    expect(indices(4, 1, "pingpong")).toEqual([0, 0, 0, 0]);
    expect(indices(8, 3, "pingpong")).toEqual([0, 1, 2, 1, 0, 1, 2, 1]);
  });

  it("ping-pong never steps more than one source frame, and never stands still (n > 1)", () => {
    for (const n of [2, 3, 7, 100]) {
      const seq = indices(5 * n, n, "pingpong");
      for (let i = 1; i < seq.length; i++)
        expect(Math.abs((seq[i] as number) - (seq[i - 1] as number)), `n=${n} i=${i}`).toBe(1);
    }
  });

  it("forward: the clip again from its first frame", () => {
    expect(indices(11, 4, "forward")).toEqual([0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2]);
  });

  it("the decode passes produce exactly the timeline", () => {
    for (const loop of ["pingpong", "forward"] as const)
      for (const n of [1, 2, 3, 5, 10]) expect(fromPasses(40, n, loop), `${loop} n=${n}`).toEqual(indices(40, n, loop));
  });

  it("length=audio spans the audio at the video's rate; length=video keeps the clip's frames", () => {
    // 11 s of audio at 25 fps over a 4 s (100-frame) clip.
    expect(outputFrameCount({ length: "audio", fps: 25, audioSeconds: 11, videoFrames: 100 })).toBe(275);
    expect(outputFrameCount({ length: "video", fps: 25, audioSeconds: 11, videoFrames: 100 })).toBe(100);
    // Within half a frame of the audio, never zero.
    expect(outputFrameCount({ length: "audio", fps: 30000 / 1001, audioSeconds: 1.01, videoFrames: 5 })).toBe(30);
    expect(outputFrameCount({ length: "audio", fps: 25, audioSeconds: 0.001, videoFrames: 5 })).toBe(1);
  });
});
