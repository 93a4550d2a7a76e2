/**
 * Mixed-radix Cooley–Tukey FFT for any length (Wav2Lip's n_fft is 800 = 2^5 * 5^2, not a
 * power of two). Small prime factors are combined with a direct DFT of that radix.
 */
export class Fft {
  private readonly cos: Float64Array;
  private readonly sin: Float64Array;
  private readonly tmpRe: Float64Array;
  private readonly tmpIm: Float64Array;

  constructor(readonly size: number) {
    if (!Number.isInteger(size) || size < 1) throw new Error(`FFT size must be a positive integer, got ${size}`);
    this.cos = new Float64Array(size);
    this.sin = new Float64Array(size);
    for (let j = 0; j < size; j++) {
      this.cos[j] = Math.cos((2 * Math.PI * j) / size);
      this.sin[j] = -Math.sin((2 * Math.PI * j) / size);
    }
    const largest = largestFactor(size);
    this.tmpRe = new Float64Array(largest);
    this.tmpIm = new Float64Array(largest);
  }

  /** Forward transform of a real signal; writes `size` complex bins into outRe/outIm. */
  forwardReal(input: Float64Array, outRe: Float64Array, outIm: Float64Array): void {
    const zeros = new Float64Array(this.size);
    this.transform(this.size, input, zeros, 0, 1, outRe, outIm, 0);
  }

  private transform(
    n: number,
    xr: Float64Array,
    xi: Float64Array,
    off: number,
    stride: number,
    outR: Float64Array,
    outI: Float64Array,
    outOff: number,
  ): void {
    if (n === 1) {
      outR[outOff] = xr[off] as number;
      outI[outOff] = xi[off] as number;
      return;
    }
    const p = smallestFactor(n);
    const m = n / p;
    // p sub-transforms of the decimated sequences, stored one after another.
    for (let r = 0; r < p; r++) this.transform(m, xr, xi, off + stride * r, stride * p, outR, outI, outOff + r * m);
    const step = this.size / n; // W_n^x = W_size^(x * step)
    const tRe = this.tmpRe;
    const tIm = this.tmpIm;
    for (let k = 0; k < m; k++) {
      for (let r = 0; r < p; r++) {
        const tw = (r * k * step) % this.size;
        const sr = outR[outOff + r * m + k] as number;
        const si = outI[outOff + r * m + k] as number;
        const c = this.cos[tw] as number;
        const s = this.sin[tw] as number;
        tRe[r] = sr * c - si * s;
        tIm[r] = sr * s + si * c;
      }
      for (let q = 0; q < p; q++) {
        let accR = 0;
        let accI = 0;
        for (let r = 0; r < p; r++) {
          const tw = (((r * q) % p) * m * step) % this.size; // W_p^(rq)
          const c = this.cos[tw] as number;
          const s = this.sin[tw] as number;
          const a = tRe[r] as number;
          const b = tIm[r] as number;
          accR += a * c - b * s;
          accI += a * s + b * c;
        }
        // Each output position is written only after all of its inputs for this k were read.
        outR[outOff + k + q * m] = accR;
        outI[outOff + k + q * m] = accI;
      }
    }
  }
}

function smallestFactor(n: number): number {
  for (let f = 2; f * f <= n; f++) if (n % f === 0) return f;
  return n;
}

function largestFactor(n: number): number {
  let largest = 1;
  let rest = n;
  while (rest > 1) {
    const f = smallestFactor(rest);
    largest = Math.max(largest, f);
    rest /= f;
  }
  return largest;
}
