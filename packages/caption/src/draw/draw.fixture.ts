/** Test inputs for the figures (the same helpers as viz's test fixtures). */
import sharp from 'sharp';

/** Attention concentrated on one grid cell (plus a little everywhere), summing to 1. */
export function peakedAttention(row: number, col: number, grid: [number, number] = [8, 8]): Float32Array {
  const a = new Float32Array(grid[0] * grid[1]).fill(0.1 / (grid[0] * grid[1]));
  a[row * grid[1] + col] += 0.9;
  return a;
}

/** A JPEG with a coloured background and a bright square, so tests can tell images apart. */
export async function makeImage(path: string, width: number, height: number, hue: number): Promise<void> {
  const bg = { r: (hue * 53) % 200, g: (hue * 97) % 200, b: (hue * 151) % 200 };
  await sharp({ create: { width, height, channels: 3, background: bg } })
    .composite([
      {
        input: await sharp({ create: { width: Math.round(width / 3), height: Math.round(height / 3), channels: 3, background: { r: 250, g: 250, b: 250 } } })
          .png()
          .toBuffer(),
        left: Math.round(width / 4),
        top: Math.round(height / 4),
      },
    ])
    .jpeg()
    .toFile(path);
}
