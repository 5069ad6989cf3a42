import sharp from 'sharp';
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
 * Upsamples a grid of 8-bit levels to width x height with libvips' bicubic kernel (smooth, no blocky
 * cells). Grid cell (r, c) covers the image region it was computed from: the featurizer squashes the
 * whole image into the network input, so the grid spans the full image.
 */
export async function upsampleAttention(levels: Uint8Array, grid: Grid, width: number, height: number): Promise<Uint8Array> {
  checkGrid(levels, grid);
  const [h, w] = grid;
  const data = await sharp(levels, { raw: { width: w, height: h, channels: 1 } })
    .resize(width, height, { kernel: 'cubic', fit: 'fill' })
    .toColourspace('b-w')
    .raw()
    .toBuffer();
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/** The colour heatmap for one step's attention at width x height, as interleaved RGBA bytes. */
export async function attentionHeatmap(
  weights: ArrayLike<number>,
  grid: Grid,
  width: number,
  height: number,
  style: HeatmapStyle = DEFAULT_HEATMAP,
): Promise<Uint8Array> {
  checkGrid(weights, grid);
  const levels = await upsampleAttention(normalizeAttention(weights), grid, width, height);
  return colorize(levels, colormapLut(style.colormap), style.alpha);
}

/** A photo already decoded to RGB at its display size. */
export interface Photo {
  rgb: Buffer;
  width: number;
  height: number;
}

/** Decodes an image (file path or encoded bytes), honours EXIF rotation, and fits it inside maxSide. */
export async function loadPhoto(image: Buffer | string, maxSide: number): Promise<Photo> {
  const { data, info } = await sharp(image)
    .rotate()
    .resize({ width: maxSide, height: maxSide, fit: 'inside' })
    .removeAlpha()
    .toColourspace('srgb')
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { rgb: data, width: info.width, height: info.height };
}

/** The photo with one step's heatmap composited over it, as raw RGB bytes at the photo's size. */
export async function overlayAttentionRaw(photo: Photo, weights: ArrayLike<number>, grid: Grid, style: HeatmapStyle = DEFAULT_HEATMAP): Promise<Buffer> {
  const heat = await attentionHeatmap(weights, grid, photo.width, photo.height, style);
  return sharp(photo.rgb, { raw: { width: photo.width, height: photo.height, channels: 3 } })
    .composite([{ input: Buffer.from(heat.buffer, heat.byteOffset, heat.byteLength), raw: { width: photo.width, height: photo.height, channels: 4 } }])
    .removeAlpha()
    .raw()
    .toBuffer();
}

/** The photo with one step's heatmap composited over it, as PNG bytes. */
export async function overlayAttention(photo: Photo, weights: ArrayLike<number>, grid: Grid, style: HeatmapStyle = DEFAULT_HEATMAP): Promise<Buffer> {
  const rgb = await overlayAttentionRaw(photo, weights, grid, style);
  return sharp(rgb, { raw: { width: photo.width, height: photo.height, channels: 3 } }).png().toBuffer();
}
