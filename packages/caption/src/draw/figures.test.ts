import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { CaptionerError } from '@captioner/core';
import { attentionFigureLayout, renderAttentionFigure, renderDatasetSample, renderSideBySide } from './figures.js';
import { makeImage, peakedAttention } from './draw.fixture.js';

let image: string;
let grey: Buffer;
beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'viz-figures-'));
  image = join(dir, 'photo.jpg');
  await makeImage(image, 200, 150, 3);
  grey = await sharp({ create: { width: 160, height: 160, channels: 3, background: { r: 128, g: 128, b: 128 } } })
    .png()
    .toBuffer();
});

const words = (n: number) => Array.from({ length: n }, (_, i) => `w${i}`);

describe('attentionFigureLayout', () => {
  it.each([1, 2, 7, 13, 20])('%i panels fit inside the figure without overlapping', (n) => {
    const layout = attentionFigureLayout(n, 224, 168, 'a caption long enough to need wrapping on a narrow figure with one panel only');
    expect(layout.panels).toHaveLength(n);
    for (const p of layout.panels) {
      expect(p.photo.left).toBeGreaterThanOrEqual(0);
      expect(p.photo.left + p.photo.width).toBeLessThanOrEqual(layout.width);
      expect(p.photo.top + p.photo.height).toBeLessThanOrEqual(layout.colorbarTop);
      expect(p.title.top + p.title.height).toBe(p.photo.top);
    }
    for (let i = 0; i < n; i++) {
      for (let j = i + 1; j < n; j++) {
        const a = layout.panels[i];
        const b = layout.panels[j];
        const apart =
          a.photo.left + a.photo.width <= b.photo.left ||
          b.photo.left + b.photo.width <= a.photo.left ||
          a.photo.top + a.photo.height <= b.title.top ||
          b.photo.top + b.photo.height <= a.title.top;
        expect(apart).toBe(true);
      }
    }
  });
});

describe('renderAttentionFigure', () => {
  it.each([1, 7, 13])('draws %i panels, each with its own attention spot', async (n) => {
    const attention = Array.from({ length: n }, (_, k) => peakedAttention(k % 8, (3 * k) % 8));
    const png = await renderAttentionFigure(grey, words(n), attention, [8, 8], { panelSize: 160 });
    const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
    const layout = attentionFigureLayout(n, 160, 160, words(n).join(' '));
    expect([info.width, info.height]).toEqual([layout.width, layout.height]);
    const rgb = (x: number, y: number) => {
      const o = (Math.round(y) * info.width + Math.round(x)) * info.channels;
      return [data[o], data[o + 1], data[o + 2]];
    };
    layout.panels.forEach((p, k) => {
      const [r, c] = [k % 8, (3 * k) % 8];
      // Hot cell centre: viridis yellow blended over grey; the opposite cell: dark purple blended.
      const hot = rgb(p.photo.left + ((c + 0.5) * p.photo.width) / 8, p.photo.top + ((r + 0.5) * p.photo.height) / 8);
      const cold = rgb(p.photo.left + ((7 - c + 0.5) * p.photo.width) / 8, p.photo.top + ((7 - r + 0.5) * p.photo.height) / 8);
      expect(hot[0] + hot[1], `panel ${k} hot spot`).toBeGreaterThan(330);
      expect(cold[0] + cold[1], `panel ${k} cold spot`).toBeLessThan(170);
    });
  });

  it('accepts a file path and honours the colormap and alpha options', async () => {
    const a = await renderAttentionFigure(image, ['dog'], [peakedAttention(2, 2)], [8, 8], { colormap: 'magma', alpha: 0.3 });
    const b = await renderAttentionFigure(image, ['dog'], [peakedAttention(2, 2)], [8, 8]);
    expect((await sharp(a).metadata()).format).toBe('png');
    expect(a.equals(b)).toBe(false);
  });

  it('explains mismatched inputs', async () => {
    await expect(renderAttentionFigure(grey, ['a', 'dog'], [peakedAttention(0, 0)], [8, 8])).rejects.toThrow(/2 words but 1 attention maps/);
    await expect(renderAttentionFigure(grey, ['a'], [new Float32Array(49)], [8, 8])).rejects.toThrow(/attention map 0 \("a"\): 49 weights/);
    await expect(renderAttentionFigure('/nonexistent/x.jpg', ['a'], [peakedAttention(0, 0)], [8, 8])).rejects.toThrow(CaptionerError);
    await expect(renderAttentionFigure(Buffer.from('not an image'), ['a'], [peakedAttention(0, 0)], [8, 8])).rejects.toThrow(/cannot decode image/);
    await expect(renderAttentionFigure(grey, [], [], [8, 8])).rejects.toThrow(/no words/);
  });
});

describe('renderSideBySide', () => {
  it('shows three panels side by side: photo, first word, last word', async () => {
    const png = await renderSideBySide(
      { image: grey, reference: 'a grey square', words: ['a', 'grey', 'square'], attention: [peakedAttention(0, 0), peakedAttention(4, 4), peakedAttention(7, 7)], grid: [8, 8] },
      { panelSize: 160 },
    );
    const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
    expect(info.width).toBeGreaterThan(3 * 160);
    expect(info.width).toBeLessThan(3 * 160 + 100);
    const px = (x: number, y: number) => data.subarray((y * info.width + x) * info.channels, (y * info.width + x) * info.channels + 3);
    const sum = (x: number, y: number) => px(x, y)[0] + px(x, y)[1];
    // Heatmap yellow over grey, not the white background.
    const hot = (x: number, y: number) => sum(x, y) > 330 && px(x, y)[2] < 120;
    // The photo row starts where the plain grey photo (left panel) begins.
    let photoTop = -1;
    for (let y = 0; y < info.height && photoTop < 0; y++) if (sum(40, y) === 256) photoTop = y;
    expect(photoTop).toBeGreaterThan(0);
    const brightXs = (y: number) => Array.from({ length: info.width }, (_, x) => x).filter((x) => hot(x, y));
    const third = info.width / 3;
    // First word looks top-left: bright pixels near the top only in the middle panel.
    const topRow = brightXs(photoTop + 8);
    expect(topRow.length).toBeGreaterThan(5);
    expect(topRow.every((x) => x > third && x < third + 60)).toBe(true);
    // Last word looks bottom-right: bright pixels near the bottom only in the right panel.
    const bottomRow = brightXs(photoTop + 152);
    expect(bottomRow.length).toBeGreaterThan(5);
    expect(bottomRow.every((x) => x > 2 * third + 60)).toBe(true);
  });
});

describe('renderDatasetSample', () => {
  it('lays out images three per row with their captions', async () => {
    const samples = Array.from({ length: 6 }, (_, i) => ({
      path: image,
      name: `img${i}.jpg`,
      captions: ['a caption that is long enough to wrap onto a second line under the photo', 'short'],
    }));
    const png = await renderDatasetSample(samples, { title: 'sample' });
    const meta = await sharp(png).metadata();
    expect(meta.width).toBeGreaterThan(3 * 300);
    expect(meta.height).toBeGreaterThan(2 * 225 + 2 * 60);
    const four = await sharp(await renderDatasetSample(samples.slice(0, 4))).metadata();
    expect(four.width).toBe(meta.width);
    await expect(renderDatasetSample([])).rejects.toThrow(/no images/);
  });
});
