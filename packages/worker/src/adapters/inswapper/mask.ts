/**
 * The paste's feathered mask over the swapper's square crop, as FaceFusion's static box mask:
 * ones, zeroed on a border of blur/2 of the half side, then blurred by a Gaussian of sigma
 * blur/4 of the half side (OpenCV's GaussianBlur with its default reflected border). `blend`
 * is FaceFusion's face_mask_blur (0 = a hard edge; its default 0.3). The mask is size x size
 * floats, made once per (size, blend): it never touches a frame.
 */
const masks = new Map<string, Float32Array>();

export function featherMask(size: number, blend: number): Float32Array {
  const key = `${size}:${blend}`;
  let mask = masks.get(key);
  if (!mask) {
    mask = buildMask(size, blend);
    masks.set(key, mask);
  }
  return mask;
}

function buildMask(size: number, blend: number): Float32Array {
  const amount = Math.trunc(size * 0.5 * blend);
  const border = Math.max(Math.trunc(amount / 2), 1);
  const mask = new Float32Array(size * size);
  for (let y = border; y < size - border; y++) mask.fill(1, y * size + border, (y + 1) * size - border);
  return amount > 0 ? gaussianBlur(mask, size, amount * 0.25) : mask;
}

/** OpenCV's kernel for a float image: 2 * round(4 sigma) + 1 taps, normalized. */
function gaussianKernel(sigma: number): Float32Array {
  const taps = Math.round(sigma * 8 + 1) | 1;
  const half = (taps - 1) / 2;
  const k = Float32Array.from({ length: taps }, (_, i) => Math.exp(-((i - half) ** 2) / (2 * sigma * sigma)));
  const sum = k.reduce((a, b) => a + b, 0);
  return k.map((v) => v / sum);
}

/** BORDER_REFLECT_101: ... 2 1 | 0 1 2 ... n-1 | n-2 ... */
function reflect(i: number, n: number): number {
  let j = i;
  while (j < 0 || j >= n) j = j < 0 ? -j : 2 * (n - 1) - j;
  return j;
}

function gaussianBlur(src: Float32Array, size: number, sigma: number): Float32Array {
  const k = gaussianKernel(sigma);
  const half = (k.length - 1) / 2;
  const pass = (from: Float32Array, horizontal: boolean) => {
    const to = new Float32Array(from.length);
    for (let y = 0; y < size; y++)
      for (let x = 0; x < size; x++) {
        let sum = 0;
        for (let t = 0; t < k.length; t++) {
          const o = t - half;
          const at = horizontal ? y * size + reflect(x + o, size) : reflect(y + o, size) * size + x;
          sum += (k[t] as number) * (from[at] as number);
        }
        to[y * size + x] = sum;
      }
    return to;
  };
  return pass(pass(src, true), false);
}
