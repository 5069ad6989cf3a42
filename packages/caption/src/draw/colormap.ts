// vega-scale is where vega's schemes live; importing it alone keeps browser bundles small.
import { scheme } from 'vega-scale';
import { CaptionerError } from '@captioner/core';

/** Perceptually uniform colormaps (matplotlib's, as shipped by vega-scale / d3-scale-chromatic). */
export const COLORMAPS = ['viridis', 'magma', 'inferno', 'plasma', 'cividis'] as const;
export type ColormapName = (typeof COLORMAPS)[number];

/** A 256-entry lookup table: entry i (RGB at 3i..3i+2) is the colour for value i/255. */
export type ColormapLut = Uint8Array;

function parseCssColor(css: string): [number, number, number] {
  const rgb = /^rgb\(\s*(\d+)\s*,\s*(\d+)\s*,\s*(\d+)\s*\)$/.exec(css);
  if (rgb) return [Number(rgb[1]), Number(rgb[2]), Number(rgb[3])];
  const hex = /^#([0-9a-f]{6})$/i.exec(css);
  if (hex) {
    const n = parseInt(hex[1], 16);
    return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
  }
  throw new Error(`unexpected colour string from vega: ${css}`);
}

const lutCache = new Map<ColormapName, ColormapLut>();

/** Samples the named colormap at 256 evenly spaced points (one per 8-bit attention level). */
export function colormapLut(name: ColormapName): ColormapLut {
  const cached = lutCache.get(name);
  if (cached) return cached;
  const interpolate = scheme(name) as ((t: number) => string) | undefined;
  if (typeof interpolate !== 'function') {
    throw new CaptionerError(`unknown colormap "${name}" (choose one of ${COLORMAPS.join(', ')})`);
  }
  const lut = new Uint8Array(256 * 3);
  for (let i = 0; i < 256; i++) lut.set(parseCssColor(interpolate(i / 255)), i * 3);
  lutCache.set(name, lut);
  return lut;
}

/**
 * Maps 8-bit intensities through a colormap into interleaved RGBA with a constant alpha, ready to be
 * composited over the photo.
 */
export function colorize(levels: Uint8Array, lut: ColormapLut, alpha: number): Uint8Array {
  const a = Math.round(Math.min(1, Math.max(0, alpha)) * 255);
  const out = new Uint8Array(levels.length * 4);
  for (let i = 0; i < levels.length; i++) {
    const c = levels[i] * 3;
    out[i * 4] = lut[c];
    out[i * 4 + 1] = lut[c + 1];
    out[i * 4 + 2] = lut[c + 2];
    out[i * 4 + 3] = a;
  }
  return out;
}

/** CSS colours for `stops` evenly spaced points, for SVG/CSS gradients (colour bars). */
export function colormapStops(name: ColormapName, stops = 11): string[] {
  const lut = colormapLut(name);
  return Array.from({ length: stops }, (_, k) => {
    const i = Math.round((k / (stops - 1)) * 255) * 3;
    return `rgb(${lut[i]},${lut[i + 1]},${lut[i + 2]})`;
  });
}
