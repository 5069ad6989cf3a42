import { describe, expect, it } from 'vitest';
import { COLORMAPS, colorize, colormapLut, colormapStops } from './colormap.js';

const luminance = (lut: Uint8Array, i: number) => 0.2126 * lut[i * 3] + 0.7152 * lut[i * 3 + 1] + 0.0722 * lut[i * 3 + 2];

describe('colormap', () => {
  it('viridis runs from dark purple to yellow', () => {
    const lut = colormapLut('viridis');
    expect(lut.length).toBe(256 * 3);
    expect(Array.from(lut.slice(0, 3))).toEqual([68, 1, 84]);
    expect(Array.from(lut.slice(255 * 3))).toEqual([253, 231, 37]);
  });

  it.each(COLORMAPS)('%s is perceptually ordered: brightness rises with the value', (name) => {
    const lut = colormapLut(name);
    for (let i = 8; i < 256; i += 8) expect(luminance(lut, i)).toBeGreaterThan(luminance(lut, i - 8));
    expect(luminance(lut, 255) - luminance(lut, 0)).toBeGreaterThan(150);
  });

  it('colorize looks each level up and applies a constant alpha', () => {
    const lut = colormapLut('magma');
    const rgba = colorize(Uint8Array.from([0, 128, 255]), lut, 0.6);
    expect(rgba.length).toBe(12);
    expect(Array.from(rgba.slice(4, 7))).toEqual(Array.from(lut.slice(128 * 3, 128 * 3 + 3)));
    expect([rgba[3], rgba[7], rgba[11]]).toEqual([153, 153, 153]);
  });

  it('stops are CSS colours from the LUT ends', () => {
    const stops = colormapStops('viridis', 3);
    expect(stops[0]).toBe('rgb(68,1,84)');
    expect(stops[2]).toBe('rgb(253,231,37)');
  });

  it('rejects an unknown colormap', () => {
    expect(() => colormapLut('jet' as never)).toThrow(/unknown colormap "jet"/);
  });
});
