import { describe, expect, it } from 'vitest';
import sharp from 'sharp';
import { attentionHeatmap, normalizeAttention, overlayAttention, upsampleAttention } from './attention.js';
import { colormapLut } from './colormap.js';

function hotCell(grid: [number, number], row: number, col: number): Float32Array {
  const a = new Float32Array(grid[0] * grid[1]).fill(0.001);
  a[row * grid[1] + col] = 1;
  return a;
}

function centroid(values: Uint8Array, width: number, height: number): [number, number] {
  let sx = 0;
  let sy = 0;
  let s = 0;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const v = values[y * width + x];
      sx += x * v;
      sy += y * v;
      s += v;
    }
  }
  return [sx / s, sy / s];
}

describe('normalizeAttention', () => {
  it('scales min..max to 0..255', () => {
    expect(Array.from(normalizeAttention([0.1, 0.3, 0.2, 0.1]))).toEqual([0, 255, 128, 0]);
  });
  it('maps uniform attention to zero (no focus) and rejects NaN', () => {
    expect(Array.from(normalizeAttention([0.25, 0.25, 0.25, 0.25]))).toEqual([0, 0, 0, 0]);
    expect(() => normalizeAttention([0.5, NaN])).toThrow(/weight 1 is NaN/);
  });
});

describe('upsampleAttention', () => {
  it('puts a hot grid cell’s peak at that cell’s centre in image coordinates', async () => {
    const grid: [number, number] = [8, 8];
    const out = await upsampleAttention(normalizeAttention(hotCell(grid, 1, 5)), grid, 224, 224);
    expect(out.length).toBe(224 * 224);
    const [cx, cy] = centroid(out, 224, 224);
    // Cell (1, 5) spans x 140..168, y 28..56 on a 224 px image.
    expect(cx).toBeGreaterThan(152);
    expect(cx).toBeLessThan(156);
    expect(cy).toBeGreaterThan(40);
    expect(cy).toBeLessThan(44);
    expect(out[0]).toBe(0);
    expect(out[223 * 224 + 223]).toBe(0);
  });

  it('is smooth, not blocky: neighbouring pixels differ by a small step', async () => {
    const grid: [number, number] = [8, 8];
    const out = await upsampleAttention(normalizeAttention(hotCell(grid, 3, 3)), grid, 224, 224);
    let maxStep = 0;
    for (let y = 0; y < 224; y++) for (let x = 1; x < 224; x++) maxStep = Math.max(maxStep, Math.abs(out[y * 224 + x] - out[y * 224 + x - 1]));
    // Nearest-neighbour scaling would jump 0 → 255 at the cell edge.
    expect(maxStep).toBeLessThan(40);
    expect(Math.max(...out)).toBeGreaterThan(240);
  });

  it('handles non-square grids onto non-square images', async () => {
    const grid: [number, number] = [4, 6];
    const out = await upsampleAttention(normalizeAttention(hotCell(grid, 3, 0)), grid, 300, 100);
    const [cx, cy] = centroid(out, 300, 100);
    // Cell (3, 0): x 0..50, y 75..100.
    expect(cx).toBeLessThan(40);
    expect(cy).toBeGreaterThan(75);
  });

  it('rejects weights that do not fill the grid', async () => {
    await expect(upsampleAttention(new Uint8Array(63), [8, 8], 10, 10)).rejects.toThrow(/63 weights do not fill a 8x8 grid/);
  });
});

describe('heatmap overlay', () => {
  it('colours the attended region with the top of the colormap', async () => {
    const heat = await attentionHeatmap(hotCell([8, 8], 0, 0), [8, 8], 64, 64, { colormap: 'viridis', alpha: 0.6 });
    const lut = colormapLut('viridis');
    expect(Array.from(heat.slice(0, 4))).toEqual([lut[765], lut[766], lut[767], 153]);
    const last = (64 * 64 - 1) * 4;
    expect(Array.from(heat.slice(last, last + 3))).toEqual([lut[0], lut[1], lut[2]]);
  });

  it('blends the heatmap over the photo at the photo’s size', async () => {
    const photo = { rgb: Buffer.alloc(100 * 50 * 3, 128), width: 100, height: 50 };
    const png = await overlayAttention(photo, hotCell([8, 8], 7, 7), [8, 8], { colormap: 'viridis', alpha: 0.6 });
    const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
    expect([info.width, info.height]).toEqual([100, 50]);
    const px = (x: number, y: number) => Array.from(data.slice((y * 100 + x) * info.channels, (y * 100 + x) * info.channels + 3));
    const [hr, hg, hb] = px(95, 47); // hot corner: 0.6 * yellow + 0.4 * grey
    expect(hr).toBeGreaterThan(190);
    expect(hg).toBeGreaterThan(180);
    expect(hb).toBeLessThan(90);
    const [cr, cg] = px(5, 3); // cold corner: 0.6 * dark purple + 0.4 * grey
    expect(cr + cg).toBeLessThan(160);
  });
});
