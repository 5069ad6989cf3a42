/**
 * Per-word attention as pixels without a Node import (the browser demo draws with it): min-max
 * levels per word, as matplotlib's imshow scales each map, coloured through a colormap LUT. The
 * Node figures (attention.ts) upsample with libvips; a page lets its canvas smooth the small grid.
 */
import { colorize, colormapLut, type ColormapName } from './colormap.js';

/** Attention grid shape as [rows, cols] (8x8 for InceptionV3 mixed10). */
export type Grid = [number, number];

export interface HeatmapStyle {
  colormap: ColormapName;
  /** Heatmap opacity over the photo. */
  alpha: number;
}

export const DEFAULT_HEATMAP: HeatmapStyle = { colormap: 'viridis', alpha: 0.6 };

export function checkGrid(weights: ArrayLike<number>, grid: Grid, what = 'attention'): void {
  const [h, w] = grid;
  if (!(Number.isInteger(h) && Number.isInteger(w) && h > 0 && w > 0)) {
    throw new RangeError(`${what}: grid must be two positive integers, got [${grid.join(', ')}]`);
  }
  if (weights.length !== h * w) {
    throw new RangeError(`${what}: ${weights.length} weights do not fill a ${h}x${w} grid (${h * w})`);
  }
}

/**
 * Min-max scales one step's attention weights to 0..255, as matplotlib's imshow does per image: the
 * most attended location is the top of the colormap. Uniform attention has no focus and maps to 0.
 */
export function normalizeAttention(weights: ArrayLike<number>): Uint8Array {
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < weights.length; i++) {
    const v = weights[i];
    if (!Number.isFinite(v)) throw new RangeError(`attention weight ${i} is ${v}`);
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const out = new Uint8Array(weights.length);
  const range = max - min;
  if (!(range > 1e-12)) return out;
  for (let i = 0; i < weights.length; i++) out[i] = Math.round(((weights[i] - min) / range) * 255);
  return out;
}

/**
 * One word's map as grid-sized RGBA (rows x cols x 4, constant alpha): draw it scaled over the
 * photo (canvas smoothing = bilinear upsampling), as the viz HTML report does.
 */
export function attentionRgba(weights: ArrayLike<number>, grid: Grid, style: HeatmapStyle = DEFAULT_HEATMAP): Uint8ClampedArray<ArrayBuffer> {
  checkGrid(weights, grid);
  const rgba = colorize(normalizeAttention(weights), colormapLut(style.colormap), style.alpha);
  return new Uint8ClampedArray(rgba.buffer as ArrayBuffer, rgba.byteOffset, rgba.byteLength);
}
