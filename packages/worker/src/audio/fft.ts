import kissfft from "kissfft-js";

/**
 * Real-input FFT of any even length, backed by KISS FFT (kissfft-js, mixed radix). Wav2Lip's
 * n_fft is 800 = 2^5 * 5^2, which power-of-two-only libraries such as fft.js cannot do.
 * KISS FFT computes in float32; the mel test bounds the effect (1e-4 on the normalized scale).
 */
export class Fft {
  private readonly fft: InstanceType<typeof kissfft.FFTR>;

  readonly size: number;

  constructor(size: number) {
    if (!Number.isInteger(size) || size < 2 || size % 2 !== 0)
      throw new Error(`FFT size must be a positive even integer, got ${size}`);
    this.size = size;
    this.fft = new kissfft.FFTR(size);
  }

  /** Forward transform of a real signal; writes the size/2+1 non-negative-frequency bins into outRe/outIm. */
  forwardReal(input: Float64Array, outRe: Float64Array, outIm: Float64Array): void {
    // kissfft-js copies the input into its own heap and returns interleaved [re, im] pairs.
    const out = this.fft.forward(input as unknown as number[]);
    const bins = this.size / 2 + 1;
    for (let b = 0; b < bins; b++) {
      outRe[b] = out[2 * b] as number;
      outIm[b] = out[2 * b + 1] as number;
    }
  }

  /** Frees the WASM/asm.js heap memory held by the plan. */
  dispose(): void {
    this.fft.dispose();
  }
}
