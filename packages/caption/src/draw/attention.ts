import sharp from 'sharp';
import { colorize, colormapLut } from './colormap.js';
import { checkGrid, DEFAULT_HEATMAP, normalizeAttention, type Grid, type HeatmapStyle } from './heatmap.js';

export { checkGrid, DEFAULT_HEATMAP, normalizeAttention, type Grid, type HeatmapStyle };

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
export async function attentionHeatmap(weights: ArrayLike<number>, grid: Grid, width: number, height: number, style: HeatmapStyle = DEFAULT_HEATMAP): Promise<Uint8Array> {
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
  return sharp(rgb, { raw: { width: photo.width, height: photo.height, channels: 3 } })
    .png()
    .toBuffer();
}
