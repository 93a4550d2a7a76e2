/**
 * How a video must be turned to play upright, read from its display matrix (side data) and
 * its legacy `rotate` tag. Only quarter turns are honoured; anything else (another angle, a
 * mirrored or sheared matrix, an unreadable value, matrix and tag disagreeing) is refused:
 * guessing would scramble the output. See docs/architecture.md#decoding-rotation-timeline-colour-order.
 */

/** Clockwise degrees to turn the stored frames so they display upright. */
export type QuarterTurn = 0 | 90 | 180 | 270;

export type RotationResult = { ok: true; clockwise: QuarterTurn } | { ok: false; reason: string };

export interface RotationMetadata {
  /** ffprobe's `displaymatrix` text of a "Display Matrix" side data entry (9 int32, 3 per line). */
  displayMatrix?: string;
  /** The stream's `rotate` tag (any case), clockwise degrees as ffmpeg before 5.0 wrote it. */
  rotateTag?: string;
}

const FIX16 = 65536;
const EPSILON = 1e-3;

/** The nine numbers of ffprobe's displaymatrix text ("00000000:  a  b  u" per row). */
function matrixValues(text: string): number[] | undefined {
  const rows = text
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean)
    .map((l) =>
      l
        .replace(/^[0-9a-fA-F]+:/, "")
        .trim()
        .split(/\s+/)
        .map(Number),
    );
  const values = rows.flat();
  return values.length === 9 && values.every(Number.isFinite) ? values : undefined;
}

/** Clockwise display rotation of a matrix (as ffmpeg's autorotate reads it), or why it cannot be honoured. */
export function matrixRotation(text: string): RotationResult {
  const m = matrixValues(text);
  if (!m) return { ok: false, reason: "its display matrix is unreadable" };
  // [a b; c d] in 16.16 fixed point; a pure rotation is [cos -sin; sin cos] (times a scale).
  const [a, b, , c, d] = m.map((v) => v / FIX16) as [number, number, number, number, number];
  const scale = Math.hypot(a, b);
  if (scale < EPSILON) return { ok: false, reason: "its display matrix is degenerate" };
  if (a * d - b * c < 0) return { ok: false, reason: "its display matrix mirrors the picture (a flip)" };
  if (Math.abs(a - d) > EPSILON * scale || Math.abs(b + c) > EPSILON * scale)
    return { ok: false, reason: "its display matrix skews or stretches the picture" };
  // ffmpeg's av_display_rotation_get() is -atan2(b, a) counter-clockwise: atan2(b, a) clockwise.
  return quarterTurn((Math.atan2(b, a) * 180) / Math.PI, "display matrix");
}

function quarterTurn(degrees: number, source: string): RotationResult {
  const normalized = ((degrees % 360) + 360) % 360;
  const turn = Math.round(normalized / 90) * 90;
  if (Math.abs(normalized - turn) > 0.01)
    return { ok: false, reason: `its ${source} rotates it by ${Math.round(normalized * 100) / 100}°` };
  return { ok: true, clockwise: (turn % 360) as QuarterTurn };
}

/** The rotation to apply: from the display matrix and/or the rotate tag, which must agree. */
export function readRotation(meta: RotationMetadata): RotationResult {
  const fromMatrix = meta.displayMatrix === undefined ? undefined : matrixRotation(meta.displayMatrix);
  let fromTag: RotationResult | undefined;
  if (meta.rotateTag !== undefined) {
    const value = meta.rotateTag.trim();
    fromTag = /^[+-]?\d+(\.\d+)?$/.test(value)
      ? quarterTurn(Number(value), "rotate tag")
      : { ok: false, reason: `its rotate tag "${value}" is not a number of degrees` };
  }
  if (fromMatrix && !fromMatrix.ok) return fromMatrix;
  if (fromTag && !fromTag.ok) return fromTag;
  if (fromMatrix?.ok && fromTag?.ok && fromMatrix.clockwise !== fromTag.clockwise)
    return {
      ok: false,
      reason: `its display matrix (${fromMatrix.clockwise}°) and rotate tag (${fromTag.clockwise}°) disagree`,
    };
  return fromMatrix ?? fromTag ?? { ok: true, clockwise: 0 };
}

/** The ffmpeg filter that turns stored frames upright (none for 0). */
export function uprightFilter(clockwise: QuarterTurn): string | undefined {
  return { 0: undefined, 90: "transpose=clock", 180: "hflip,vflip", 270: "transpose=cclock" }[clockwise];
}
