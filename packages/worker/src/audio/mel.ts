import { Fft } from "./fft.ts";

/**
 * Wav2Lip's audio features (audio.py + hparams.py of Rudrabha/Wav2Lip): 16 kHz mono,
 * pre-emphasis 0.97, centred STFT (n_fft 800, hop 200, periodic Hann window 800, reflect
 * padding as librosa 0.7), magnitude -> 80 Slaney mel bands 55..7600 Hz (area-normalized),
 * 20*log10 with a -100 dB floor, minus ref level 20 dB, then symmetric normalization
 * clipped to [-4, 4].
 */
export const MEL = {
  sampleRate: 16_000,
  preemphasis: 0.97,
  nFft: 800,
  hop: 200,
  win: 800,
  nMels: 80,
  fMin: 55,
  fMax: 7600,
  refLevelDb: 20,
  minLevelDb: -100,
  maxAbsValue: 4,
  /** Mel frames fed to the model per video frame (inference.py's mel_step_size). */
  stepSize: 16,
} as const;

/** Mel spectrogram laid out as [frame][band]: frames * 80 values, band fastest. */
export interface MelSpectrogram {
  frames: number;
  bands: number;
  data: Float32Array;
}

/** A segment's output frames [start, start + count) at `fps` (docs/architecture.md#segments). */
export interface SegmentFrames {
  start: number;
  count: number;
  fps: number;
}

/**
 * Samples [offset, offset + data.length) of an audio `length` samples long: all a segment
 * decodes (melSampleSpan says which it needs); its mel frames are exactly the whole audio's.
 */
export interface SampleWindow {
  data: Float32Array;
  offset: number;
  length: number;
}

type Samples = Float32Array | SampleWindow;
const windowOf = (wav: Samples): SampleWindow =>
  wav instanceof Float32Array ? { data: wav, offset: 0, length: wav.length } : wav;

/**
 * The samples [from, to) of an audio `length` samples long that the mel frames of
 * `videoFrames` read (reflection at the ends and the pre-emphasis's previous sample included).
 */
export function melSampleSpan(length: number, videoFrames: SegmentFrames): [number, number] {
  const [from, to] = framesToCompute(1 + Math.floor(length / MEL.hop), videoFrames);
  const pad = MEL.nFft / 2;
  // Near either end the reflected samples lie within `pad` of it: the whole span reaches there.
  const lo = from * MEL.hop - pad - 1 < pad ? 0 : from * MEL.hop - pad - 1;
  const hi = (to - 1) * MEL.hop + pad > length - pad - 1 ? length : (to - 1) * MEL.hop + pad;
  return [lo, Math.max(lo, hi)];
}

/**
 * With `videoFrames` only the mel frames their windows read are computed, each exactly as
 * in the whole spectrogram; the others stay zero. A long item's segment thus spends its own
 * share of the work, not the whole audio's.
 */
export function melSpectrogram(wav: Samples, videoFrames?: SegmentFrames): MelSpectrogram {
  const stft = melFrames(wav);
  const [from, to] = framesToCompute(stft.frames, videoFrames);
  stft.compute(from, to);
  return stft.finish();
}

/**
 * The same spectrogram, computed in slices with the event loop served between them: a
 * 10-minute audio is ~2 s of CPU, which must not hold up BullMQ's lock renewal
 * (docs/architecture.md#worker-deaths).
 */
export async function melSpectrogramYielding(
  wav: Samples,
  sliceFrames = 1000,
  videoFrames?: SegmentFrames,
): Promise<MelSpectrogram> {
  const stft = melFrames(wav);
  const [from, to] = framesToCompute(stft.frames, videoFrames);
  try {
    for (let t = from; t < to; t += sliceFrames) {
      stft.compute(t, Math.min(to, t + sliceFrames));
      await new Promise((resolve) => setImmediate(resolve));
    }
  } catch (err) {
    stft.finish();
    throw err;
  }
  return stft.finish();
}

/** The STFT -> mel state of one audio; compute() fills frames [from, to), finish() frees the FFT plan. */
function melFrames(samples: Samples) {
  const { nFft, hop, nMels } = MEL;
  const wav = windowOf(samples);
  const emphasized = preemphasize(wav.data, MEL.preemphasis);
  const pad = nFft / 2;
  const frames = 1 + Math.floor(wav.length / hop);
  // A window's first sample lacks its predecessor: only the samples after it are exact.
  const firstExact = wav.offset === 0 ? 0 : wav.offset + 1;
  const end = wav.offset + wav.data.length;
  const sample = (i: number) => {
    const at = reflectIndex(i, wav.length);
    if (at < firstExact || at >= end)
      throw new Error(`mel frame reads sample ${at}, outside the decoded [${firstExact}, ${end})`);
    return emphasized[at - wav.offset] as number;
  };
  const window = hannPeriodic(MEL.win);
  const basis = melBasis();
  const fft = new Fft(nFft);
  const bins = nFft / 2 + 1;
  const frame = new Float64Array(nFft);
  const re = new Float64Array(nFft);
  const im = new Float64Array(nFft);
  const magnitude = new Float64Array(bins);
  const out = new Float32Array(frames * nMels);
  const minLevel = 10 ** (MEL.minLevelDb / 20);
  return {
    frames,
    compute(from: number, to: number) {
      for (let t = from; t < to; t++) {
        const start = t * hop - pad;
        for (let j = 0; j < nFft; j++) frame[j] = sample(start + j) * (window[j] as number);
        fft.forwardReal(frame, re, im);
        for (let b = 0; b < bins; b++) magnitude[b] = Math.hypot(re[b] as number, im[b] as number);
        for (let m = 0; m < nMels; m++) {
          const { first, weights } = basis[m] as MelFilter;
          let energy = 0;
          for (let j = 0; j < weights.length; j++) energy += (weights[j] as number) * (magnitude[first + j] as number);
          const db = 20 * Math.log10(Math.max(minLevel, energy)) - MEL.refLevelDb;
          out[t * nMels + m] = normalize(db);
        }
      }
    },
    finish(): MelSpectrogram {
      fft.dispose(); // the plan lives on KISS FFT's heap, not the JS heap
      return { frames, bands: nMels, data: out };
    },
  };
}

/** Mel frames [from, to) that melWindow reads for the given video frames (all without). */
function framesToCompute(frames: number, v?: SegmentFrames): [number, number] {
  if (!v) return [0, frames];
  const first = (i: number) => windowStart(i, v.fps, frames);
  return [Math.max(0, first(v.start)), Math.min(frames, Math.max(0, first(v.start + v.count - 1)) + MEL.stepSize)];
}

/** The value every band takes in silence (normalize of the -100 dB floor). */
export const MEL_SILENCE = normalize(MEL.minLevelDb - MEL.refLevelDb);

function normalize(db: number): number {
  const { maxAbsValue: a, minLevelDb } = MEL;
  const v = 2 * a * ((db - minLevelDb) / -minLevelDb) - a;
  return Math.min(a, Math.max(-a, v));
}

/** scipy.signal.lfilter([1, -k], [1], x) */
function preemphasize(x: Float32Array, k: number): Float64Array {
  const y = new Float64Array(x.length);
  let prev = 0;
  for (let i = 0; i < x.length; i++) {
    const v = x[i] as number;
    y[i] = v - k * prev;
    prev = v;
  }
  return y;
}

/** numpy.pad(mode="reflect") index mapping (edge not repeated), for any overshoot. */
function reflectIndex(i: number, n: number): number {
  if (n === 1) return 0;
  const period = 2 * (n - 1);
  let j = i % period;
  if (j < 0) j += period;
  return j < n ? j : period - j;
}

function hannPeriodic(n: number): Float64Array {
  const w = new Float64Array(n);
  for (let i = 0; i < n; i++) w[i] = 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / n);
  return w;
}

// Slaney mel scale (librosa htk=False): linear below 1 kHz, logarithmic above.
const F_SP = 200 / 3;
const MIN_LOG_HZ = 1000;
const MIN_LOG_MEL = MIN_LOG_HZ / F_SP;
const LOG_STEP = Math.log(6.4) / 27;
const hzToMel = (f: number) => (f >= MIN_LOG_HZ ? MIN_LOG_MEL + Math.log(f / MIN_LOG_HZ) / LOG_STEP : f / F_SP);
const melToHz = (m: number) => (m >= MIN_LOG_MEL ? MIN_LOG_HZ * Math.exp(LOG_STEP * (m - MIN_LOG_MEL)) : F_SP * m);

interface MelFilter {
  first: number;
  weights: Float64Array;
}

let cachedBasis: MelFilter[] | undefined;

/** librosa.filters.mel(sr, n_fft, n_mels, fmin, fmax) with norm="slaney", stored sparsely. */
function melBasis(): MelFilter[] {
  if (cachedBasis) return cachedBasis;
  const { sampleRate, nFft, nMels, fMin, fMax } = MEL;
  const bins = nFft / 2 + 1;
  const fftFreqs = Array.from({ length: bins }, (_, i) => (i * sampleRate) / nFft);
  const lo = hzToMel(fMin);
  const hi = hzToMel(fMax);
  const melF = Array.from({ length: nMels + 2 }, (_, i) => melToHz(lo + ((hi - lo) * i) / (nMels + 1)));
  cachedBasis = [];
  for (let m = 0; m < nMels; m++) {
    const [left, centre, right] = [melF[m], melF[m + 1], melF[m + 2]] as [number, number, number];
    const enorm = 2 / (right - left);
    const row = fftFreqs.map(
      (f) => Math.max(0, Math.min((f - left) / (centre - left), (right - f) / (right - centre))) * enorm,
    );
    const first = row.findIndex((w) => w > 0);
    let last = row.length - 1;
    while (last >= 0 && (row[last] as number) <= 0) last--;
    cachedBasis.push(
      first < 0
        ? { first: 0, weights: new Float64Array(0) }
        : { first, weights: Float64Array.from(row.slice(first, last + 1)) },
    );
  }
  return cachedBasis;
}

/** The first mel frame of video frame `frameIndex`'s window (see melWindow); negative when the audio is shorter than a window. */
const windowStart = (frameIndex: number, fps: number, frames: number) =>
  Math.min(Math.floor((frameIndex * 80) / fps), frames - MEL.stepSize);

/**
 * The 16 mel frames for each video frame, as Wav2Lip's inference.py slices them: frame i
 * starts at mel frame floor(i * 80 / fps); a window running past the end takes the last 16
 * frames. Returns [80 x 16] band-major (the model's [1, 80, 16] layout).
 */
export function melWindow(mel: MelSpectrogram, frameIndex: number, fps: number, out: Float32Array): void {
  const { stepSize } = MEL;
  const start = windowStart(frameIndex, fps, mel.frames);
  for (let t = 0; t < stepSize; t++) {
    const src = start + t;
    for (let b = 0; b < mel.bands; b++)
      out[b * stepSize + t] = src >= 0 ? (mel.data[src * mel.bands + b] as number) : MEL_SILENCE;
  }
}
