import { describe, expect, it } from "vitest";
import { matrixRotation, readRotation, uprightFilter } from "./rotation.ts";

/** ffprobe's displaymatrix text for [a b u; c d v; x y w] (a..d in 16.16 fixed point). */
const matrix = (a: number, b: number, c: number, d: number) =>
  `\n00000000: ${[a, b, 0].map((v) => Math.round(v * 65536)).join(" ")}\n` +
  `00000001: ${[c, d, 0].map((v) => Math.round(v * 65536)).join(" ")}\n00000002: 0 0 1073741824\n`;
const turn = (cwDegrees: number) => {
  const r = (cwDegrees * Math.PI) / 180;
  // Clockwise display rotation: atan2(b, a) = cw, i.e. [cos sin; -sin cos].
  return matrix(Math.cos(r), Math.sin(r), -Math.sin(r), Math.cos(r));
};

describe("display rotation", () => {
  it("reads the matrix ffmpeg writes for a phone clip (ffprobe rotation 90 = a quarter turn counter-clockwise)", () => {
    // As ffprobe prints a file tagged with -metadata:s:v rotate=90 by ffmpeg 5.1.
    const text =
      "\n00000000:            0      -65536           0\n00000001:        65536           0           0\n00000002:            0           0  1073741824\n";
    expect(matrixRotation(text)).toEqual({ ok: true, clockwise: 270 });
    expect(uprightFilter(270)).toBe("transpose=cclock");
  });

  it("honours every quarter turn, from the matrix or the legacy rotate tag", () => {
    for (const cw of [0, 90, 180, 270] as const) {
      expect(readRotation({ displayMatrix: turn(cw) })).toEqual({ ok: true, clockwise: cw });
      expect(readRotation({ rotateTag: String(cw) })).toEqual({ ok: true, clockwise: cw });
      expect(readRotation({ displayMatrix: turn(cw), rotateTag: String(cw) })).toEqual({ ok: true, clockwise: cw });
    }
    expect(readRotation({ rotateTag: "-90" })).toEqual({ ok: true, clockwise: 270 });
    expect(readRotation({})).toEqual({ ok: true, clockwise: 0 });
    expect([90, 180].map((d) => uprightFilter(d as 90 | 180))).toEqual(["transpose=clock", "hflip,vflip"]);
    expect(uprightFilter(0)).toBeUndefined();
  });

  it("refuses what it cannot honour, saying why", () => {
    const refused = (meta: Parameters<typeof readRotation>[0]) => {
      const r = readRotation(meta);
      return r.ok ? `accepted ${r.clockwise}` : r.reason;
    };
    expect(refused({ displayMatrix: turn(45) })).toBe("its display matrix rotates it by 45°");
    expect(refused({ rotateTag: "30" })).toBe("its rotate tag rotates it by 30°");
    expect(refused({ displayMatrix: matrix(-1, 0, 0, 1) })).toBe("its display matrix mirrors the picture (a flip)");
    expect(refused({ displayMatrix: matrix(1, 0, 0, -1) })).toBe("its display matrix mirrors the picture (a flip)");
    expect(refused({ displayMatrix: matrix(0, 1, 1, 0) })).toBe("its display matrix mirrors the picture (a flip)");
    expect(refused({ displayMatrix: matrix(2, 0, 0, 1) })).toBe("its display matrix skews or stretches the picture");
    expect(refused({ displayMatrix: matrix(1, 0.5, 0, 1) })).toBe("its display matrix skews or stretches the picture");
    expect(refused({ displayMatrix: matrix(0, 0, 0, 0) })).toBe("its display matrix is degenerate");
    expect(refused({ displayMatrix: "garbage" })).toBe("its display matrix is unreadable");
    expect(refused({ rotateTag: "ninety" })).toBe('its rotate tag "ninety" is not a number of degrees');
    expect(refused({ displayMatrix: turn(90), rotateTag: "180" })).toBe(
      "its display matrix (90°) and rotate tag (180°) disagree",
    );
  });
});
