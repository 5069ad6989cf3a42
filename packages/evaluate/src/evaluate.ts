import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { CaptionerError, type EvaluateConfig } from '@captioner/core';
import { log, peakRssMiB, progress, timer, withAtomicPath, writeArrowFile } from '@captioner/core/node';
import { tf } from '@captioner/tf';
import { beamSearch, greedyDecode, type DecodeResult } from '@captioner/model';
import { openFeatureStore, type FeatureStore } from '@captioner/featurize';
import { cocoTokenize, METRIC_NAMES, scoreCaptions, type CaptionScores, type ScoredCaption } from '@captioner/metrics';
import { readReferences } from './references.js';
import { cleanedReferenceTokens, times100 } from './scoring.js';

export { cleanedReferenceTokens } from './scoring.js';
import { runBaselines } from './baseline-rows.js';
import { METRICS_FILE, PREDICTIONS_JSONL_FILE, type EvaluateReport, type MethodReport } from './contract.js';
import { baselineWarnings } from './baselines.js';
import { predictionsJsonl, predictionsTable, type DecodingMethod, type PredictionRow } from './outputs.js';
import { checkFeatureCompatibility, checkpointInfo, loadTrainedModel, type TrainedModel } from './trained-model.js';

const STAGE = 'evaluate';

export interface RunEvaluateOptions {
  /** data/stages/train/model */
  modelDir: string;
  /** data/stages/featurize */
  featurizeDir: string;
  /** data/stages/ingest (captions.arrow: the reference captions and splits) */
  ingestDir: string;
  /** data/stages/evaluate */
  outDir: string;
  config: EvaluateConfig;
  /** text-clean's rule of the run (textClean.minWordLength), for the cleaned-reference scores; default 2. */
  minWordLength?: number;
  /** Plain progress lines every this many ms (default: bar on a TTY, 10 s lines otherwise). */
  progressIntervalMs?: number;
}

export type { MethodReport, EvaluateReport } from './contract.js';

export const METRIC_NOTES: Record<string, string> = {
  tokenization: 'references and predictions lowercased and PTB-tokenized with punctuation tokens removed, as pycocoevalcap PTBTokenizer',
  BLEU: 'corpus BLEU-1..4 as pycocoevalcap bleu_scorer (closest reference length, clipped counts summed over the corpus)',
  'CIDEr-D': "pycocoevalcap cider_scorer: n=1..4, tf-idf with document frequencies over this split's references, sigma=6 length penalty, clipped, x10",
  'ROUGE-L': 'pycocoevalcap rouge.py: LCS, beta=1.2, max precision and max recall over references',
  cleanedReferences:
    'x100CleanedReferences: the same metrics against references passed through text-clean (lowercase, punctuation and one-letter words such as "a" removed), i.e. in the model\'s own vocabulary; not comparable to published scores',
  METEOR: 'not computed: a faithful METEOR needs the Java METEOR 1.5 with WordNet synonyms and paraphrase tables',
  baselines:
    'constant / constantBleu4: one training caption for every image, the best corpus CIDEr-D / BLEU-4 among the most frequent and most central training captions on the val split (train when val is evaluated), never on the evaluated split; nearestNeighbour: the consensus caption (highest CIDEr-D against its siblings) of the training image with the highest cosine of mean-pooled features',
  warnings: 'a decoding row is flagged unless its CIDEr-D x100 >= best baseline CIDEr-D x100 + evaluate.baselineMarginCiderD and its BLEU-4 x100 >= best baseline BLEU-4 x100',
};

interface Selection {
  images: string[];
  references: Map<string, string[]>;
  skipped: EvaluateReport['skipped'];
}

/** Split images with features, in feature-store order (shard locality), at most `limit`. */
function selectImages(references: Map<string, string[]>, store: FeatureStore, limit: number | null): Selection {
  const failed = new Set(store.failed.map((f) => f.image));
  const skipped: Selection['skipped'] = { failed: [], absent: [], overLimit: 0 };
  const position = new Map(store.images.map((image, i) => [image, i]));
  let usable: string[] = [];
  for (const image of references.keys()) {
    if (position.has(image)) usable.push(image);
    else if (failed.has(image)) skipped.failed.push(image);
    else skipped.absent.push(image);
  }
  if (limit !== null && usable.length > limit) {
    skipped.overLimit = usable.length - limit;
    usable = usable.slice(0, limit);
  }
  usable.sort((a, b) => position.get(a)! - position.get(b)!);
  return { images: usable, references, skipped };
}

/** Decodes every selected image with greedy search and beam search, `batchSize` images at a time. */
async function decodeAll(
  trained: TrainedModel,
  store: FeatureStore,
  images: readonly string[],
  opts: { batchSize: number; beam: number; maxSteps: number; lengthPenalty: number; noRepeatNgram: number; progressIntervalMs?: number },
): Promise<{ results: Record<DecodingMethod, DecodeResult[]>; seconds: Record<DecodingMethod, number> }> {
  const { model } = trained;
  const { locations, featureDim } = model.config;
  const results: Record<DecodingMethod, DecodeResult[]> = { greedy: [], beam: [] };
  const seconds: Record<DecodingMethod, number> = { greedy: 0, beam: 0 };
  const common = { startId: trained.startId, endId: trained.endId, maxLength: opts.maxSteps, words: model.words, noRepeatNgram: opts.noRepeatNgram };
  const bar = progress({ stage: STAGE, label: 'decoding', total: images.length, unit: 'images', intervalMs: opts.progressIntervalMs });
  const buffer = new Float32Array(opts.batchSize * store.rowLength);
  try {
    for (let start = 0; start < images.length; start += opts.batchSize) {
      const batch = images.slice(start, start + opts.batchSize);
      const values = store.getBatch(batch, buffer).subarray(0, batch.length * store.rowLength);
      const features = tf.tensor3d(values, [batch.length, locations, featureDim]);
      try {
        let t = timer();
        results.greedy.push(...greedyDecode(model, features, common));
        seconds.greedy += t();
        t = timer();
        results.beam.push(...beamSearch(model, features, { ...common, beam: opts.beam, lengthPenalty: opts.lengthPenalty }));
        seconds.beam += t();
      } finally {
        features.dispose();
      }
      bar.tick(batch.length, { greedy: `${seconds.greedy.toFixed(1)}s`, beam: `${seconds.beam.toFixed(1)}s` });
    }
  } finally {
    bar.stop();
  }
  return { results, seconds };
}

const caption = (r: DecodeResult) => r.words.join(' ');

function flattenAttention(r: DecodeResult, locations: number): Float32Array {
  const out = new Float32Array(r.attention.length * locations);
  r.attention.forEach((row, i) => out.set(row, i * locations));
  return out;
}

/**
 * The evaluate stage: decode a split with greedy and beam search, score both against the raw
 * reference captions the way the COCO caption evaluation does, and write predictions.arrow,
 * predictions.jsonl and metrics.json into `outDir` (the folder is replaced atomically).
 */
export async function runEvaluate(opts: RunEvaluateOptions): Promise<EvaluateReport> {
  const elapsed = timer();
  const { config } = opts;
  const trained = await loadTrainedModel(opts.modelDir);
  const { model } = trained;
  try {
    const store = openFeatureStore(opts.featurizeDir);
    try {
      checkFeatureCompatibility(
        model.features,
        store.manifest as unknown as Record<string, unknown>,
        join(opts.modelDir, 'features.json'),
        join(opts.featurizeDir, 'manifest.json'),
      );
      const references = readReferences(opts.ingestDir, config.split);
      const selection = selectImages(references, store, config.limit);
      const { skipped } = selection;
      if (skipped.failed.length || skipped.absent.length) {
        log(STAGE, `skipping ${skipped.failed.length} image(s) featurize failed on and ${skipped.absent.length} absent from the feature store`);
      }
      if (selection.images.length === 0) {
        throw new CaptionerError(`no ${config.split} images with features to evaluate (${references.size} in the split; see ${join(opts.featurizeDir, 'manifest.json')})`);
      }
      const maxSteps = config.maxLength ?? trained.defaultMaxSteps;
      log(STAGE, `${selection.images.length} ${config.split} images, greedy + beam ${config.beam}, at most ${maxSteps} steps, batches of ${config.batchSize}`);
      const { results, seconds } = await decodeAll(trained, store, selection.images, {
        batchSize: config.batchSize,
        beam: config.beam,
        maxSteps,
        lengthPenalty: config.lengthPenalty,
        noRepeatNgram: config.noRepeatNgram,
        progressIntervalMs: opts.progressIntervalMs,
      });

      const tokenizedRefs = selection.images.map((image) => references.get(image)!.map(cocoTokenize));
      const cleanedRefs = selection.images.map((image) => references.get(image)!.map((r) => cleanedReferenceTokens(r, { minWordLength: opts.minWordLength })));
      const rows: PredictionRow[] = [];
      const methods = {} as Record<DecodingMethod, MethodReport>;
      const x100 = {} as Record<DecodingMethod, CaptionScores>;
      const x100CleanedReferences = {} as Record<DecodingMethod, CaptionScores>;
      for (const method of ['greedy', 'beam'] as const) {
        const decoded = results[method];
        const items: ScoredCaption[] = decoded.map((r, i) => ({ candidate: cocoTokenize(caption(r)), references: tokenizedRefs[i] }));
        const scores = scoreCaptions(items);
        decoded.forEach((r, i) => {
          const image = selection.images[i];
          rows.push({
            image,
            split: config.split,
            method,
            references: references.get(image)!,
            prediction: caption(r),
            tokens: r.tokens,
            logProb: r.logProb,
            attention: flattenAttention(r, model.config.locations),
            ciderD: scores.perItem[i]['CIDEr-D'],
          });
        });
        methods[method] = {
          decoding:
            method === 'beam'
              ? { method, beam: config.beam, lengthPenalty: config.lengthPenalty, noRepeatNgram: config.noRepeatNgram, maxSteps }
              : { method, noRepeatNgram: config.noRepeatNgram, maxSteps },
          scores: scores.corpus,
          stats: {
            bleuLengths: scores.bleuLengths,
            meanWords: decoded.reduce((n, r) => n + r.words.length, 0) / decoded.length,
            unfinished: decoded.filter((r) => !r.finished).length,
            capHitShare: decoded.filter((r) => !r.finished).length / decoded.length,
            distinctRatio: new Set(decoded.map(caption)).size / decoded.length,
            decodeSeconds: seconds[method],
            imagesPerSecond: decoded.length / Math.max(seconds[method], 1e-9),
          },
        };
        x100[method] = times100(scores.corpus);
        x100CleanedReferences[method] = times100(scoreCaptions(items.map((it, i) => ({ ...it, references: cleanedRefs[i] }))).corpus);
        const m = x100[method];
        const c = x100CleanedReferences[method];
        log(
          STAGE,
          `${method}: BLEU-1 ${m['BLEU-1']} BLEU-4 ${m['BLEU-4']} CIDEr-D ${m['CIDEr-D']} ROUGE-L ${m['ROUGE-L']} (x100; against cleaned references: BLEU-1 ${c['BLEU-1']} BLEU-4 ${c['BLEU-4']})`,
        );
      }

      const baselines = config.baselines
        ? await runBaselines({ store, ingestDir: opts.ingestDir, split: config.split, images: selection.images, references, config, minWordLength: opts.minWordLength })
        : null;
      const x100Baselines: Record<string, CaptionScores> = {};
      for (const [name, b] of Object.entries(baselines?.report.rows ?? {})) x100Baselines[name] = times100(b.scores);
      const warnings = baselineWarnings(x100, x100Baselines, config.baselineMarginCiderD);
      const report: EvaluateReport = {
        split: config.split,
        images: selection.images.length,
        skipped,
        scale: '0-1',
        checkpoint: checkpointInfo(trained),
        model: { ...model.config },
        methods,
        x100,
        x100CleanedReferences,
        baselines: baselines?.report ?? null,
        x100Baselines,
        warnings,
        metricNotes: METRIC_NOTES,
        backend: tf.getBackend(),
        seconds: elapsed(),
        peakRssMiB: peakRssMiB(),
        createdAt: new Date().toISOString(),
      };
      const table = predictionsTable(rows, { locations: model.config.locations, grid: gridOf(model.features.grid, model.config.locations), split: config.split });
      // All three files appear together: the folder is built under a temp name and renamed into place.
      await withAtomicPath(opts.outDir, (tmp) => {
        writeArrowFile(join(tmp, 'predictions.arrow'), table);
        writeFileSync(join(tmp, PREDICTIONS_JSONL_FILE), predictionsJsonl(rows, baselines?.perImage));
        writeFileSync(join(tmp, METRICS_FILE), JSON.stringify(report, null, 2) + '\n');
      });
      for (const line of resultsTable(report)) log(STAGE, line);
      for (const w of warnings) log(STAGE, `warning: ${w.message}`);
      log(STAGE, `wrote ${opts.outDir} in ${report.seconds.toFixed(1)}s, peak RSS ${report.peakRssMiB} MiB`);
      return report;
    } finally {
      store.close();
    }
  } finally {
    model.dispose();
  }
}

function gridOf(grid: unknown, locations: number): [number, number] {
  if (Array.isArray(grid) && grid.length === 2 && grid[0] * grid[1] === locations) return [grid[0], grid[1]];
  const side = Math.round(Math.sqrt(locations));
  return side * side === locations ? [side, side] : [1, locations];
}

/**
 * The printed results table: decoding rows and baseline rows, x100, with mean words and the share
 * of captions cut by the length cap.
 */
export function resultsTable(report: Pick<EvaluateReport, 'split' | 'images' | 'methods' | 'x100' | 'baselines' | 'x100Baselines'>): string[] {
  const head = ['', ...METRIC_NAMES, 'words', 'at cap'];
  const body: string[][] = [];
  for (const [method, m] of Object.entries(report.methods)) {
    const label = m.decoding.beam !== undefined ? `${method} (k=${m.decoding.beam})` : method;
    const x = report.x100[method as DecodingMethod];
    body.push([label, ...METRIC_NAMES.map((k) => x[k].toFixed(2)), m.stats.meanWords.toFixed(1), `${(m.stats.capHitShare * 100).toFixed(1)}%`]);
  }
  for (const [name, b] of Object.entries(report.baselines?.rows ?? {})) {
    const x = report.x100Baselines[name];
    body.push([`baseline: ${name}`, ...METRIC_NAMES.map((k) => x[k].toFixed(2)), b.stats.meanWords.toFixed(1), '-']);
  }
  const widths = head.map((h, c) => Math.max(h.length, ...body.map((r) => r[c].length)));
  const fmt = (r: string[]) => r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  ');
  const lines = [`${report.split}, ${report.images} images, x100:`, fmt(head), ...body.map(fmt)];
  for (const name of ['constant', 'constantBleu4'] as const) {
    const row = report.baselines?.rows[name];
    if (row) lines.push(`${name}: "${row.caption}" (best ${row.selection.metric} on ${row.selection.split})`);
  }
  for (const s of report.baselines?.skipped ?? []) lines.push(`baseline ${s.name} not computed: ${s.reason}`);
  return lines;
}
