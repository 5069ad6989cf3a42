/**
 * Per-word attention as pixels, browser-safe: min-max levels (as matplotlib's imshow and the viz
 * figures scale each word's map) coloured through a colormap LUT into a small RGBA grid that a
 * canvas upsamples over the photo (bilinear smoothing), as the viz HTML report does.
 */
import { scheme } from 'vega-scale';

/** Attention grid shape as [rows, cols] (7x7 for MobileNetV2 Conv_1). */
export type Grid = [number, number];

/** Min-max scales one step's weights to 0..255; uniform attention has no focus and maps to 0. */
export function attentionLevels(weights: ArrayLike<number>): Uint8Array {
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

const luts = new Map<string, Uint8Array>();

/** 256 RGB entries of a vega colormap (viridis by default), the same colours as the viz figures. */
export function colormapTable(name = 'viridis'): Uint8Array {
  let lut = luts.get(name);
  if (lut) return lut;
  const interpolate = scheme(name) as ((t: number) => string) | undefined;
  if (typeof interpolate !== 'function') throw new RangeError(`unknown colormap "${name}"`);
  lut = new Uint8Array(256 * 3);
  for (let i = 0; i < 256; i++) {
    const css = interpolate(i / 255);
    const rgb = /^rgb\(\s*(\d+)\s*,\s*(\d+)\s*,\s*(\d+)\s*\)$/.exec(css);
    const hex = /^#([0-9a-f]{6})$/i.exec(css);
    if (rgb) lut.set([Number(rgb[1]), Number(rgb[2]), Number(rgb[3])], i * 3);
    else if (hex) {
      const n = parseInt(hex[1], 16);
      lut.set([(n >> 16) & 255, (n >> 8) & 255, n & 255], i * 3);
    } else throw new Error(`unexpected colour string from vega: ${css}`);
  }
  luts.set(name, lut);
  return lut;
}

/** One word's map as grid-sized RGBA (rows x cols x 4), alpha constant; draw it scaled over the photo. */
export function attentionRgba(weights: ArrayLike<number>, grid: Grid, alpha = 0.6, colormap = 'viridis'): Uint8ClampedArray {
  const [h, w] = grid;
  if (weights.length !== h * w) throw new RangeError(`attention: ${weights.length} weights do not fill a ${h}x${w} grid`);
  const levels = attentionLevels(weights);
  const lut = colormapTable(colormap);
  const a = Math.round(Math.min(1, Math.max(0, alpha)) * 255);
  const out = new Uint8ClampedArray(levels.length * 4);
  for (let i = 0; i < levels.length; i++) {
    const c = levels[i] * 3;
    out.set([lut[c], lut[c + 1], lut[c + 2], a], i * 4);
  }
  return out;
}
