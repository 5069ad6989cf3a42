import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { CaptionerError, seededRandom, shuffleInPlace, type VizConfig } from '@captioner/core';
import { log, timer, writeFileAtomic, writeJsonAtomic } from '@captioner/core/node';
import { renderAttentionFigure, renderDatasetSample, renderSideBySide, type Grid } from '@captioner/caption';
import { renderVegaLiteSvg, svgToPng, trainingCurvesSpec } from './charts.js';
import { readEvalMetrics, readIngest, readPredictions, readTrainMetrics, resolveGrid, type EpochMetrics, type EvalMetrics, type PredictionRecord } from './inputs.js';
import { buildReportHtml, type ReportCard } from './report.js';

export interface VizOptions {
  /** Workspace root (relative imagesDir in the ingest manifest resolves against it). */
  root: string;
  ingestDir: string;
  featurizeDir: string;
  trainDir: string;
  evaluateDir: string;
  outDir: string;
  config: VizConfig;
}

export interface VizFigure {
  /** Path relative to outDir. */
  file: string;
  description: string;
}

export interface VizResult {
  figures: VizFigure[];
  /** Absolute path of report/index.html. */
  report: string;
  /** Inputs that were missing, so their figures were skipped. */
  skipped: string[];
  seconds: number;
}

const STAGE = 'viz';
const REPORT_PHOTO_SIDE = 384;

function imagePath(imagesDir: string, image: string): string {
  const path = join(imagesDir, image);
  if (!existsSync(path)) throw new CaptionerError(`image ${image} not found in ${imagesDir} (from the ingest manifest's imagesDir)`);
  return path;
}

async function photoDataUri(path: string): Promise<{ dataUri: string; width: number; height: number }> {
  const { data, info } = await sharp(path)
    .rotate()
    .resize({ width: REPORT_PHOTO_SIDE, height: REPORT_PHOTO_SIDE, fit: 'inside', withoutEnlargement: true })
    .jpeg({ quality: 82, mozjpeg: true })
    .toBuffer({ resolveWithObject: true });
  return { dataUri: `data:image/jpeg;base64,${data.toString('base64')}`, width: info.width, height: info.height };
}

/** The method shown in PNG figures: the configured one, else beam when evaluated, else the first. */
export function chooseMethod(methods: string[], configured: string | null, path: string): string {
  if (configured) {
    if (!methods.includes(configured)) throw new CaptionerError(`viz.method "${configured}" is not in ${path} (has ${methods.join(', ')})`);
    return configured;
  }
  return methods.includes('beam') ? 'beam' : methods[0];
}

/**
 * The viz stage: PNG figures (dataset sample, training curves, per-example attention) and a
 * self-contained HTML report under outDir. Needs the ingest outputs; training metrics and evaluate
 * outputs are optional (their figures are skipped, with a note in the report, when absent).
 */
export async function runViz(opts: VizOptions): Promise<VizResult> {
  const elapsed = timer();
  const cfg = opts.config;
  const style = { colormap: cfg.colormap, alpha: cfg.overlayAlpha };
  const figures: VizFigure[] = [];
  const skipped: string[] = [];
  const write = (file: string, data: Buffer | string, description: string) => {
    writeFileAtomic(join(opts.outDir, file), data);
    figures.push({ file, description });
    log(STAGE, `wrote ${join(opts.outDir, file)}`);
  };

  // 1. Dataset sample.
  const ingest = readIngest(opts.ingestDir, opts.root);
  const allImages = [...ingest.images.keys()];
  if (allImages.length === 0) throw new CaptionerError(`${join(opts.ingestDir, 'captions.arrow')}: no captions`);
  const sampleNames = shuffleInPlace([...allImages], seededRandom(cfg.seed)).slice(0, cfg.sampleImages);
  const samplePng = await renderDatasetSample(
    sampleNames.map((name) => ({ path: imagePath(ingest.imagesDir, name), name, captions: ingest.images.get(name)!.captions })),
    { title: `Dataset sample: ${sampleNames.length} of ${allImages.length} images (seed ${cfg.seed})` },
  );
  write('dataset-sample.png', samplePng, `${sampleNames.length} random images (seed ${cfg.seed}) with their reference captions`);

  // 2. Training curves.
  let epochs: EpochMetrics[] = [];
  let trainingSvg: string | null = null;
  const trainMetricsPath = join(opts.trainDir, 'metrics.jsonl');
  if (existsSync(trainMetricsPath)) {
    epochs = readTrainMetrics(trainMetricsPath);
    if (epochs.length > 0) {
      const spec = trainingCurvesSpec(epochs);
      trainingSvg = await renderVegaLiteSvg(spec);
      write('training-curves.png', await svgToPng(await renderVegaLiteSvg(spec, 2)), `training and validation loss and tokens/s over ${epochs.length} epochs`);
    } else skipped.push(`${trainMetricsPath} has no epochs yet`);
  } else skipped.push(`no training metrics (${trainMetricsPath}); run \`captioner train\``);

  // 3. Predictions: example figures and report cards.
  const predictionsPath = join(opts.evaluateDir, 'predictions.arrow');
  let metrics: EvalMetrics | null = null;
  const cards: ReportCard[] = [];
  let grid: Grid = [8, 8];
  let summary = `Dataset: ${allImages.length} images.`;
  const exampleFiles = new Set<string>();
  if (existsSync(predictionsPath)) {
    const preds = readPredictions(predictionsPath);
    grid = resolveGrid(preds.locations, { metadata: preds.metadata, featurizeDir: opts.featurizeDir, trainDir: opts.trainDir });
    const byImage = new Map<string, PredictionRecord[]>();
    for (const r of preds.records) {
      const list = byImage.get(r.image);
      if (list) list.push(r);
      else byImage.set(r.image, [r]);
    }
    const method = preds.records.length ? chooseMethod(preds.methods, cfg.method, predictionsPath) : null;
    const forMethod = (image: string) => byImage.get(image)?.find((r) => r.method === method && r.words.length > 0);
    const evaluated = [...byImage.keys()];
    let exampleImages: string[];
    if (cfg.exampleImages.length > 0) {
      for (const name of cfg.exampleImages) {
        if (!forMethod(name)) throw new CaptionerError(`viz.exampleImages: "${name}" has no non-empty ${method ?? ''} prediction in ${predictionsPath}`);
      }
      exampleImages = cfg.exampleImages;
    } else {
      exampleImages = shuffleInPlace(
        evaluated.filter((n) => forMethod(n)),
        seededRandom(cfg.seed + 1),
      ).slice(0, cfg.examples);
    }
    for (const [k, name] of exampleImages.entries()) {
      const rec = forMethod(name)!;
      const path = imagePath(ingest.imagesDir, name);
      const reference = rec.references[0] ?? ingest.images.get(name)?.captions[0] ?? '';
      const base = `example-${k + 1}`;
      write(
        `${base}-side-by-side.png`,
        await renderSideBySide({ image: path, reference, words: rec.words, attention: rec.attention, grid }, { ...style, title: `${method}: ${rec.prediction}` }),
        `${name}: photo with a reference caption | attention of the first and the last predicted word (${method})`,
      );
      write(
        `${base}-attention.png`,
        await renderAttentionFigure(path, rec.words, rec.attention, grid, { ...style, title: `${name} (${method}): ${rec.prediction}` }),
        `${name}: attention over the photo for each of the ${rec.words.length} predicted words (${method})`,
      );
      exampleFiles.add(`${base}-side-by-side.png`).add(`${base}-attention.png`);
    }

    // Report cards: the examples first, then a seeded pick of the other evaluated images.
    const rest = shuffleInPlace(
      evaluated.filter((n) => !exampleImages.includes(n)),
      seededRandom(cfg.seed + 2),
    );
    for (const name of [...exampleImages, ...rest].slice(0, cfg.reportImages)) {
      const records = byImage.get(name)!;
      cards.push({
        image: name,
        split: records[0].split,
        photo: await photoDataUri(imagePath(ingest.imagesDir, name)),
        references: records[0].references.length ? records[0].references : (ingest.images.get(name)?.captions ?? []),
        predictions: records.map((r) => ({ method: r.method, words: r.words, logProb: r.logProb, ciderD: r.ciderD, attention: r.attention })),
      });
    }
    const splits = [...new Set(preds.records.map((r) => r.split))].join(', ');
    summary = `${evaluated.length} evaluated images (${splits}), methods: ${preds.methods.join(', ')}; attention grid ${grid[0]}x${grid[1]}; showing ${cards.length}. Dataset: ${allImages.length} images.`;
    log(STAGE, `${preds.records.length} predictions for ${evaluated.length} images; methods ${preds.methods.join(', ')}; grid ${grid.join('x')}`);
  } else skipped.push(`no predictions (${predictionsPath}); run \`captioner evaluate\``);

  const metricsPath = join(opts.evaluateDir, 'metrics.json');
  if (existsSync(metricsPath)) metrics = readEvalMetrics(metricsPath);
  else skipped.push(`no scores (${metricsPath}); run \`captioner evaluate\``);

  // Example figures from an earlier run with more examples would otherwise look current.
  if (existsSync(opts.outDir)) {
    for (const f of readdirSync(opts.outDir)) if (/^example-\d+-.*\.png$/.test(f) && !exampleFiles.has(f)) rmSync(join(opts.outDir, f));
  }

  const sampleJpeg = await sharp(samplePng).flatten({ background: '#ffffff' }).jpeg({ quality: 80, mozjpeg: true }).toBuffer();
  const html = buildReportHtml({
    title: 'Captioner report',
    summary,
    notes: skipped,
    metrics,
    trainingSvg,
    epochs,
    datasetSample: {
      dataUri: `data:image/jpeg;base64,${sampleJpeg.toString('base64')}`,
      alt: `Dataset sample: ${sampleNames.length} photos with their captions. ` + sampleNames.map((n) => `${n}: ${ingest.images.get(n)!.captions[0] ?? ''}`).join('; '),
    },
    cards,
    grid,
    colormap: cfg.colormap,
    alpha: cfg.overlayAlpha,
  });
  const report = join(opts.outDir, 'report', 'index.html');
  write('report/index.html', html, `self-contained HTML report: scores, training curves, ${cards.length} interactive attention cards`);
  const seconds = elapsed();
  writeJsonAtomic(join(opts.outDir, 'report.json'), { figures, skipped, examples: [...exampleFiles], cards: cards.map((c) => c.image), seconds: Math.round(seconds * 10) / 10 });
  for (const s of skipped) log(STAGE, `skipped: ${s}`);
  log(STAGE, `done in ${seconds.toFixed(1)} s`);
  return { figures, report, skipped, seconds };
}
