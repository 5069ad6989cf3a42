import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import sharp from 'sharp';
import { initBackend, tf } from '@captioner/tf';
import { decodeImage, ImageDecodeError, preprocessImage, resizeAndScale } from './preprocess.js';

const rawRgb = (data: number[] | Uint8Array, width: number, height: number, channels: 1 | 2 | 3 | 4 = 3) => sharp(Buffer.from(data), { raw: { width, height, channels } });

/** A noisy RGB image so resampling differences cannot hide. */
function noise(width: number, height: number, seed = 7): Uint8Array {
  const data = new Uint8Array(width * height * 3);
  let s = seed;
  for (let i = 0; i < data.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    data[i] = s >>> 24;
  }
  return data;
}

let dir: string;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'featurize-preprocess-'));
  await initBackend({ backend: 'cpu', quiet: true });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('bilinear resize', () => {
  it('matches a hand-computed 2x2 → 3x3 case (half_pixel_centers=false, scaling 0,1)', async () => {
    // Red channel: 0 90 / 180 255; green = 255 - red; blue constant 51.
    const red = [0, 90, 180, 255];
    const png = await rawRgb(
      red.flatMap((r) => [r, 255 - r, 51]),
      2,
      2,
    )
      .png()
      .toBuffer();
    const out = await preprocessImage(png, { inputSize: 3, scaling: '0,1' });
    // scale 2/3: source coordinates 0, 2/3, 4/3 (clamped to row/col 1).
    const expectedRed = [
      [0, 60, 90], // top row: 0 + 90 * 2/3 = 60
      [120, 173.333, 200], // row at y=2/3: 0 + 180*2/3 = 120; top 60, bottom 180 + 75*2/3 = 230 → 60 + 170*2/3
      [180, 230, 255],
    ];
    for (let y = 0; y < 3; y++) {
      for (let x = 0; x < 3; x++) {
        const i = (y * 3 + x) * 3;
        expect(out[i] * 255).toBeCloseTo(expectedRed[y][x], 2);
        expect(out[i + 1] * 255).toBeCloseTo(255 - expectedRed[y][x], 2);
        expect(out[i + 2] * 255).toBeCloseTo(51, 3);
      }
    }
  });

  it('applies -1,1 scaling as x/127.5 - 1', async () => {
    const png = await rawRgb([0, 255, 127.5, 0, 255, 127.5, 0, 255, 127.5, 0, 255, 127.5], 2, 2).png().toBuffer();
    const out = await preprocessImage(png, { inputSize: 2, scaling: '-1,1' });
    expect(out[0]).toBeCloseTo(-1, 6);
    expect(out[1]).toBeCloseTo(1, 6);
    expect(out[2]).toBeCloseTo(127 / 127.5 - 1, 6); // 127.5 was stored as the byte 127
  });

  for (const halfPixelCenters of [false, true]) {
    it(`agrees with tf.image.resizeBilinear (halfPixelCenters=${halfPixelCenters}) on noise, up- and downsampling`, () => {
      for (const [w, h, size] of [
        [7, 5, 11],
        [13, 17, 6],
        [224, 224, 299],
      ]) {
        const data = noise(w, h);
        const ours = resizeAndScale({ data, width: w, height: h }, { inputSize: size, scaling: '0,1', halfPixelCenters });
        const reference = tf.tidy(() =>
          tf.image
            .resizeBilinear(tf.tensor3d(Float32Array.from(data), [h, w, 3]), [size, size], false, halfPixelCenters)
            .div(255)
            .dataSync(),
        );
        let maxDiff = 0;
        for (let i = 0; i < ours.length; i++) maxDiff = Math.max(maxDiff, Math.abs(ours[i] - reference[i]));
        expect(maxDiff).toBeLessThan(5e-5); // float32 rounding only: 1/255 is 3.9e-3
      }
    });
  }

  it('writes into a batch buffer at an offset', async () => {
    const png = await rawRgb(noise(4, 4), 4, 4).png().toBuffer();
    const alone = await preprocessImage(png, { inputSize: 5, scaling: '0,1' });
    const batch = new Float32Array(2 * alone.length).fill(-7);
    await preprocessImage(png, { inputSize: 5, scaling: '0,1' }, batch, alone.length);
    expect(batch.subarray(0, alone.length).every((v) => v === -7)).toBe(true);
    expect(Array.from(batch.subarray(alone.length))).toEqual(Array.from(alone));
  });
});

describe('decoding', () => {
  it('applies EXIF orientation (6 = rotate 90° clockwise)', async () => {
    // Stored 32x16: left half red, right half blue. Displayed: 16x32, top half red, bottom blue.
    const w = 32;
    const h = 16;
    const pixels: number[] = [];
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) pixels.push(...(x < w / 2 ? [255, 0, 0] : [0, 0, 255]));
    const jpeg = await rawRgb(pixels, w, h).jpeg({ quality: 100 }).withMetadata({ orientation: 6 }).toBuffer();
    expect((await sharp(jpeg).metadata()).orientation).toBe(6);
    const image = await decodeImage(jpeg);
    expect([image.width, image.height]).toEqual([16, 32]);
    const at = (x: number, y: number) => Array.from(image.data.subarray((y * image.width + x) * 3, (y * image.width + x) * 3 + 3));
    expect(at(8, 4)[0]).toBeGreaterThan(200);
    expect(at(8, 4)[2]).toBeLessThan(50);
    expect(at(8, 28)[2]).toBeGreaterThan(200);
    expect(at(8, 28)[0]).toBeLessThan(50);
  });

  it('expands grayscale to three equal channels', async () => {
    const png = await rawRgb([0, 50, 100, 250], 2, 2, 1).png().toBuffer();
    const image = await decodeImage(png);
    expect(Array.from(image.data)).toEqual([0, 0, 0, 50, 50, 50, 100, 100, 100, 250, 250, 250]);
  });

  it('reduces 16-bit PNG to 8 bits', async () => {
    const png = await rawRgb([10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110, 120], 2, 2).toColourspace('rgb16').png().toBuffer();
    expect((await sharp(png).metadata()).depth).toBe('ushort');
    expect(Array.from((await decodeImage(png)).data)).toEqual([10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110, 120]);
  });

  it('converts CMYK JPEG to sRGB', async () => {
    const colour = [200, 60, 30];
    const solid = Array.from({ length: 16 * 16 }, () => colour).flat();
    const jpeg = await rawRgb(solid, 16, 16).toColourspace('cmyk').jpeg({ quality: 100 }).toBuffer();
    expect((await sharp(jpeg).metadata()).space).toBe('cmyk');
    const image = await decodeImage(jpeg);
    expect(image.data.length).toBe(16 * 16 * 3);
    // sRGB → CMYK → sRGB through ICC profiles is not the identity (gamut mapping moves this orange
    // to about 201,49,0); it must stay near the original and keep its hue order.
    const [r, g, b] = image.data.subarray((8 * 16 + 8) * 3, (8 * 16 + 8) * 3 + 3);
    for (const [got, want] of [
      [r, 200],
      [g, 60],
      [b, 30],
    ])
      expect(Math.abs(got - want)).toBeLessThan(40);
    expect(r).toBeGreaterThan(g);
    expect(g).toBeGreaterThan(b);
  });

  it('drops alpha (keeps the colour under transparent pixels, no flattening)', async () => {
    const png = await rawRgb([200, 10, 10, 0, 10, 200, 10, 255], 2, 1, 4).png().toBuffer();
    expect(Array.from((await decodeImage(png)).data)).toEqual([200, 10, 10, 10, 200, 10]);
    const greyAlpha = await rawRgb([90, 0, 30, 128], 2, 1, 2).png().toBuffer();
    expect(Array.from((await decodeImage(greyAlpha)).data)).toEqual([90, 90, 90, 30, 30, 30]);
  });

  it('reads lossless WebP exactly', async () => {
    const data = noise(6, 4);
    const webp = await rawRgb(data, 6, 4).webp({ lossless: true }).toBuffer();
    const image = await decodeImage(webp);
    expect(Array.from(image.data)).toEqual(Array.from(data));
  });

  it('reads from a path as from a buffer', async () => {
    const png = await rawRgb(noise(5, 5), 5, 5).png().toBuffer();
    const path = join(dir, 'ok.png');
    writeFileSync(path, png);
    const opts = { inputSize: 8, scaling: '0,1' as const };
    expect(Array.from(await preprocessImage(path, opts))).toEqual(Array.from(await preprocessImage(png, opts)));
  });
});

describe('bad images fail with a typed reason', () => {
  async function failure(input: string | Uint8Array): Promise<ImageDecodeError> {
    try {
      await preprocessImage(input, { inputSize: 8, scaling: '0,1' });
    } catch (err) {
      expect(err).toBeInstanceOf(ImageDecodeError);
      return err as ImageDecodeError;
    }
    throw new Error('expected a failure');
  }

  it('zero-byte file', async () => {
    writeFileSync(join(dir, 'empty.jpg'), '');
    const err = await failure(join(dir, 'empty.jpg'));
    expect(err.kind).toBe('empty');
    expect(err.message).toContain('empty.jpg');
    expect((await failure(new Uint8Array(0))).kind).toBe('empty');
  });

  it('missing file', async () => {
    const err = await failure(join(dir, 'nope.jpg'));
    expect(err.kind).toBe('missing');
    expect(err.reason).toBe('missing: file not found');
  });

  it('a text file named .jpg', async () => {
    writeFileSync(join(dir, 'text.jpg'), 'this is not an image\n');
    expect((await failure(join(dir, 'text.jpg'))).kind).toBe('not-an-image');
  });

  it('corrupt bytes after a JPEG header', async () => {
    const bytes = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.from(noise(40, 10))]);
    expect((await failure(bytes)).kind).toBe('corrupt');
  });

  it('truncated JPEG (last 30% cut off)', async () => {
    const jpeg = await rawRgb(noise(64, 64), 64, 64).jpeg({ quality: 90 }).toBuffer();
    expect((await decodeImage(jpeg)).width).toBe(64);
    const err = await failure(jpeg.subarray(0, Math.floor(jpeg.length * 0.7)));
    expect(err.kind).toBe('corrupt');
    expect(err.reason).toMatch(/JPEG|truncat|premature/i);
  });

  it('truncated PNG', async () => {
    const png = await rawRgb(noise(64, 64), 64, 64).png().toBuffer();
    expect((await failure(png.subarray(0, Math.floor(png.length * 0.6)))).kind).toBe('corrupt');
  });
});
