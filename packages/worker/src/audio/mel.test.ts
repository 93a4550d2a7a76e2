import { describe, expect, it } from "vitest";
import fixture from "./mel.fixture.json" with { type: "json" };
import { MEL, MEL_SILENCE, melSampleSpan, melSpectrogram, melSpectrogramYielding, melWindow } from "./mel.ts";

/** Same signal as test_signal() in scripts/mel-reference.py, rounded to float32 the same way. */
function testSignal(n: number): Float32Array {
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const t = i / MEL.sampleRate;
    x[i] =
      0.5 * Math.sin(2 * Math.PI * 220 * t) +
      0.25 * Math.sin(2 * Math.PI * 1250 * t + 0.3) * (i / n) +
      0.05 * Math.sin(2 * Math.PI * 3700 * t);
  }
  return x;
}

// The fixture is rounded to 6 decimals; both sides compute in float64 from the same float32
// samples, so 1e-4 on the [-4, 4] normalized scale leaves room only for rounding.
const TOLERANCE = 1e-4;

describe("Wav2Lip mel spectrogram", () => {
  it("matches the numpy/scipy reference (scripts/mel-reference.py)", () => {
    const mel = melSpectrogram(testSignal(fixture.samples));
    expect(mel.frames).toBe(fixture.frames);
    expect(mel.bands).toBe(fixture.bands);
    for (const [frame, expected] of Object.entries(fixture.picked)) {
      const got = Array.from(mel.data.subarray(Number(frame) * 80, Number(frame) * 80 + 80));
      const worst = Math.max(...got.map((v, b) => Math.abs(v - (expected[b] as number))));
      expect(worst, `frame ${frame}`).toBeLessThan(TOLERANCE);
    }
  });

  it("the yielding version gives the same values and lets timers run between slices", async () => {
    const wav = testSignal(fixture.samples);
    let ticks = 0;
    const timer = setInterval(() => ticks++, 0);
    const yielded = await melSpectrogramYielding(wav, 10);
    clearInterval(timer);
    expect(yielded).toEqual(melSpectrogram(wav));
    expect(yielded.frames).toBeGreaterThan(20); // several slices, so timers had their turns
    expect(ticks).toBeGreaterThan(0);
  });

  it("maps silence to the bottom of the scale", () => {
    const mel = melSpectrogram(new Float32Array(3200));
    expect(MEL_SILENCE).toBe(-4);
    expect(mel.data.every((v) => v === -4)).toBe(true);
  });

  it("slices 16 mel frames per video frame like inference.py, clamping at the end", () => {
    const frames = 50;
    const data = new Float32Array(frames * 80);
    for (let t = 0; t < frames; t++) data.fill(t, t * 80, t * 80 + 80);
    const out = new Float32Array(80 * 16);
    melWindow({ frames, bands: 80, data }, 5, 25, out); // start = floor(5 * 80 / 25) = 16
    expect(out[0]).toBe(16);
    expect(out[15]).toBe(31);
    expect(out[79 * 16 + 15]).toBe(31);
    melWindow({ frames, bands: 80, data }, 12, 25, out); // 38 + 16 > 50 -> last 16 frames
    expect(out[0]).toBe(34);
    expect(out[15]).toBe(49);
  });
});

describe("melSpectrogram of a segment's frames", () => {
  it("computes the windows those frames read exactly as the whole spectrogram does", async () => {
    const wav = new Float32Array(16_000 * 5).map((_, i) => Math.sin(i / 7) * Math.sin(i / 3001));
    const whole = melSpectrogram(wav);
    const fps = 25;
    const windowOf = (mel: typeof whole, i: number) => {
      const out = new Float32Array(80 * MEL.stepSize);
      melWindow(mel, i, fps, out);
      return out;
    };
    for (const [start, count] of [
      [0, 50],
      [50, 50],
      [100, 25],
    ] as const) {
      // The segment path computes it in slices (melSpectrogramYielding): both ways, a small slice.
      for (const part of [
        melSpectrogram(wav, { start, count, fps }),
        await melSpectrogramYielding(wav, 10, { start, count, fps }),
      ]) {
        for (let i = start; i < start + count; i++) expect(windowOf(part, i)).toEqual(windowOf(whole, i));
        expect(part.data.some((v, k) => v !== whole.data[k])).toBe(true); // the rest was not computed
      }
    }
  });

  it("reads only the samples melSampleSpan names: a segment decodes that window alone", async () => {
    const wav = new Float32Array(16_000 * 5 + 123).map((_, i) => Math.sin(i / 5) * Math.sin(i / 2999));
    const whole = melSpectrogram(wav);
    const fps = 25;
    const windowOf = (mel: typeof whole, i: number) => {
      const out = new Float32Array(80 * MEL.stepSize);
      melWindow(mel, i, fps, out);
      return out;
    };
    for (const [start, count] of [
      [0, 10],
      [40, 30],
      [110, 15],
      [124, 1],
    ] as const) {
      const [from, to] = melSampleSpan(wav.length, { start, count, fps });
      expect(to - from).toBeLessThan(wav.length / 2);
      const part = await melSpectrogramYielding({ data: wav.slice(from, to), offset: from, length: wav.length }, 10, {
        start,
        count,
        fps,
      });
      for (let i = start; i < start + count; i++) expect(windowOf(part, i)).toEqual(windowOf(whole, i));
    }
    // A window one sample short of what the frames read is refused, not silently wrong.
    const [from, to] = melSampleSpan(wav.length, { start: 60, count: 5, fps });
    expect(() =>
      melSpectrogram(
        { data: wav.slice(from + 2, to), offset: from + 2, length: wav.length },
        { start: 60, count: 5, fps },
      ),
    ).toThrow(/outside the decoded/);
  });
});
