import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { renderVegaLiteSvg, svgToPng, trainingCurvesSpec } from './charts.js';

const epochs = Array.from({ length: 5 }, (_, i) => ({ epoch: i + 1, trainLoss: 3 - 0.4 * i, valLoss: i === 1 ? null : 3.2 - 0.3 * i, tokensPerSec: 8000 + 50 * i }));

describe('training curves', () => {
  it('draws both loss series and the throughput, skipping missing validation points', async () => {
    const svg = await renderVegaLiteSvg(trainingCurvesSpec(epochs));
    expect(svg.startsWith('<svg')).toBe(true);
    for (const text of ['Loss per epoch', 'Training throughput', 'training', 'validation', 'tokens / s']) expect(svg).toContain(text);
    // Points: 5 training + 4 validation + 5 throughput.
    const points = svg.match(/aria-roledescription="point"/g) ?? [];
    expect(points.length).toBe(14);
  });

  it('leaves out the throughput chart when no epoch has it', async () => {
    const svg = await renderVegaLiteSvg(trainingCurvesSpec(epochs.map(({ tokensPerSec: _, ...e }) => e)));
    expect(svg).toContain('Loss per epoch');
    expect(svg).not.toContain('Training throughput');
  });

  it('rasterises to a PNG at the requested scale', async () => {
    const spec = trainingCurvesSpec(epochs);
    const one = await sharp(await svgToPng(await renderVegaLiteSvg(spec, 1))).metadata();
    const two = await sharp(await svgToPng(await renderVegaLiteSvg(spec, 2))).metadata();
    expect(one.format).toBe('png');
    expect(two.width).toBe(one.width! * 2);
    expect(one.width).toBeGreaterThan(700);
  });
});
