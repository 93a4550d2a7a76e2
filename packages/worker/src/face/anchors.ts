/**
 * SSD anchors as MediaPipe's SsdAnchorsCalculator makes them (ssd_anchors_calculator.cc,
 * the non-multiscale path). Centres are normalized to [0,1]; BlazeFace uses fixed_anchor_size,
 * so every anchor's width and height is 1 and min/max scale do not matter.
 */
export interface AnchorOptions {
  inputWidth: number;
  inputHeight: number;
  minScale: number;
  maxScale: number;
  anchorOffsetX: number;
  anchorOffsetY: number;
  strides: number[];
  aspectRatios: number[];
  interpolatedScaleAspectRatio: number;
  fixedAnchorSize: boolean;
}

export interface Anchor {
  xCenter: number;
  yCenter: number;
  w: number;
  h: number;
}

function scaleAt(o: AnchorOptions, strideIndex: number): number {
  const n = o.strides.length;
  return n === 1 ? (o.minScale + o.maxScale) / 2 : o.minScale + ((o.maxScale - o.minScale) * strideIndex) / (n - 1);
}

export function ssdAnchors(o: AnchorOptions): Anchor[] {
  const anchors: Anchor[] = [];
  let layer = 0;
  while (layer < o.strides.length) {
    const widths: number[] = [];
    const heights: number[] = [];
    // Layers with the same stride share one feature map: their anchors are merged per cell.
    let last = layer;
    while (last < o.strides.length && o.strides[last] === o.strides[layer]) {
      const scale = scaleAt(o, last);
      for (const ratio of o.aspectRatios) {
        heights.push(scale / Math.sqrt(ratio));
        widths.push(scale * Math.sqrt(ratio));
      }
      if (o.interpolatedScaleAspectRatio > 0) {
        const next = last === o.strides.length - 1 ? 1 : scaleAt(o, last + 1);
        const s = Math.sqrt(scale * next);
        const ratio = o.interpolatedScaleAspectRatio;
        heights.push(s / Math.sqrt(ratio));
        widths.push(s * Math.sqrt(ratio));
      }
      last++;
    }
    const stride = o.strides[layer] as number;
    const rows = Math.ceil(o.inputHeight / stride);
    const cols = Math.ceil(o.inputWidth / stride);
    for (let y = 0; y < rows; y++)
      for (let x = 0; x < cols; x++)
        for (let a = 0; a < widths.length; a++)
          anchors.push({
            xCenter: (x + o.anchorOffsetX) / cols,
            yCenter: (y + o.anchorOffsetY) / rows,
            w: o.fixedAnchorSize ? 1 : (widths[a] as number),
            h: o.fixedAnchorSize ? 1 : (heights[a] as number),
          });
    layer = last;
  }
  return anchors;
}
