import sharp from 'sharp';
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import type { EpochMetrics } from './inputs.js';

const CHART_FONT = 'DejaVu Sans, Bitstream Vera Sans, sans-serif';

/**
 * Vega-Lite spec: training and validation loss per epoch | training throughput (tokens/s) per epoch.
 * Epochs without a validation loss (or throughput) are left out of that line rather than drawn as 0.
 */
export function trainingCurvesSpec(epochs: EpochMetrics[]): TopLevelSpec {
  const values = epochs.map((e) => ({
    epoch: e.epoch,
    training: e.trainLoss,
    validation: e.valLoss ?? null,
    tokensPerSec: e.tokensPerSec ?? null,
  }));
  const x = { field: 'epoch', type: 'quantitative' as const, title: 'epoch', axis: { tickMinStep: 1, format: 'd' }, scale: { nice: false } };
  const hasThroughput = values.some((v) => v.tokensPerSec != null);
  const loss = {
    width: 380,
    height: 240,
    title: 'Loss per epoch',
    transform: [{ fold: ['training', 'validation'], as: ['series', 'loss'] }, { filter: 'isValid(datum.loss) && isFinite(datum.loss)' }],
    mark: { type: 'line' as const, point: true },
    encoding: {
      x,
      y: { field: 'loss', type: 'quantitative' as const, title: 'cross-entropy loss per token', scale: { zero: false } },
      color: {
        field: 'series',
        type: 'nominal' as const,
        title: null,
        scale: { domain: ['training', 'validation'], range: ['#1f77b4', '#ff7f0e'] },
        legend: { orient: 'top-right' as const, fillColor: 'rgba(255,255,255,0.85)', padding: 4 },
      },
      tooltip: [
        { field: 'epoch', type: 'quantitative' as const },
        { field: 'series', type: 'nominal' as const },
        { field: 'loss', type: 'quantitative' as const, format: '.4f' },
      ],
    },
  };
  const throughput = {
    width: 380,
    height: 240,
    title: 'Training throughput',
    transform: [{ filter: 'isValid(datum.tokensPerSec)' }],
    mark: { type: 'line' as const, point: { color: '#2ca02c' }, color: '#2ca02c' },
    encoding: {
      x,
      y: { field: 'tokensPerSec', type: 'quantitative' as const, title: 'tokens / s', scale: { zero: true } },
      tooltip: [
        { field: 'epoch', type: 'quantitative' as const },
        { field: 'tokensPerSec', type: 'quantitative' as const, format: ',.0f' },
      ],
    },
  };
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    background: 'white',
    padding: 12,
    data: { values },
    hconcat: hasThroughput ? [loss, throughput] : [loss],
    // Each chart keeps its own legend, placed inside the loss plot (losses fall, so its top right is empty).
    resolve: { legend: { color: 'independent' } },
    spacing: 40,
    config: { font: CHART_FONT, title: { fontSize: 14 }, axis: { labelFontSize: 11, titleFontSize: 12 }, legend: { labelFontSize: 12 } },
  } as TopLevelSpec;
}

/** Renders a Vega-Lite spec to an SVG string headlessly (no browser, no canvas). */
export async function renderVegaLiteSvg(spec: TopLevelSpec, scale = 1): Promise<string> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG(scale);
  } finally {
    view.finalize();
  }
}

/** Rasterises SVG (vega's or ours) to PNG with sharp/librsvg. */
export async function svgToPng(svg: string): Promise<Buffer> {
  return sharp(Buffer.from(svg)).flatten({ background: '#ffffff' }).png({ compressionLevel: 9 }).toBuffer();
}
