import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Table } from 'apache-arrow';
import * as z from 'zod';
import { CaptionerError, featureSetSchema } from '@captioner/core';
import { column, fromRoot, readArrowFile, readJson, readJsonLines } from '@captioner/core/node';
import type { Grid } from '@captioner/caption';
import { ingestManifestSchema, INGEST_MANIFEST_FILE } from '@captioner/ingest/contract';
import { evaluateReportSchema, methodReportSchema } from '@captioner/evaluate/contract';
import { epochMetricsSchema } from '@captioner/train/contract';

/** Captions of one image, from ingest/captions.arrow. */
export interface ImageCaptions {
  image: string;
  split: string;
  captions: string[];
}

export interface IngestData {
  /** Absolute images folder. */
  imagesDir: string;
  images: Map<string, ImageCaptions>;
}

/** ingest/captions.arrow grouped by image (captions in caption_index order) + the images folder from manifest.json. */
export function readIngest(ingestDir: string, root: string): IngestData {
  // Only the images folder is needed here: ingest's schema, that field.
  const manifest = readJson(join(ingestDir, INGEST_MANIFEST_FILE), ingestManifestSchema.pick({ imagesDir: true }), 'ingest');
  const imagesDir = fromRoot(manifest.imagesDir, root);
  const path = join(ingestDir, 'captions.arrow');
  const table = readArrowFile(path, 'ingest');
  const image = column<string>(table, 'image', path);
  const caption = column<string>(table, 'caption', path);
  const index = column<number>(table, 'caption_index', path);
  const split = column<string>(table, 'split', path);
  const rows: { image: string; caption: string; index: number; split: string }[] = [];
  for (let i = 0; i < table.numRows; i++) {
    rows.push({ image: image.get(i), caption: caption.get(i), index: index.get(i), split: split.get(i) });
  }
  rows.sort((a, b) => (a.image < b.image ? -1 : a.image > b.image ? 1 : a.index - b.index));
  const images = new Map<string, ImageCaptions>();
  for (const r of rows) {
    let entry = images.get(r.image);
    if (!entry) images.set(r.image, (entry = { image: r.image, split: r.split, captions: [] }));
    entry.captions.push(r.caption);
  }
  return { imagesDir, images };
}

/** One decoded caption from evaluate/predictions.arrow. */
export interface PredictionRecord {
  image: string;
  split: string;
  /** Decoding method (greedy, beam…); "prediction" when the file has no method column. */
  method: string;
  references: string[];
  prediction: string;
  /** The prediction split on spaces: one attention map per word. */
  words: string[];
  logProb: number | null;
  /** Per-image CIDEr-D when evaluate stored it (`cider_d` column). */
  ciderD: number | null;
  /** attention[i]: weights over the grid locations when word i was generated. */
  attention: Float32Array[];
  /** Decoder steps beyond the words (e.g. the step that emitted <eos>). */
  extraSteps: number;
}

export interface Predictions {
  path: string;
  locations: number;
  records: PredictionRecord[];
  /** Methods in order of first appearance. */
  methods: string[];
  metadata: Map<string, string>;
}

function listOfStrings(value: unknown): string[] {
  if (value == null) return [];
  return Array.from(value as Iterable<unknown>, (v) => String(v));
}

function floatValues(value: unknown): Float32Array {
  if (value == null) return new Float32Array(0);
  const v = value as { toArray?: () => ArrayLike<number> };
  // Copy: the vector may view the whole file's bytes.
  return Float32Array.from(typeof v.toArray === 'function' ? v.toArray() : (value as ArrayLike<number>));
}

/** Reads evaluate/predictions.arrow, splitting each row's flattened attention into one map per word. */
export function readPredictions(path: string): Predictions {
  const table: Table = readArrowFile(path, 'evaluate');
  const metadata = table.schema.metadata;
  const locationsText = metadata.get('locations');
  const locations = Number(locationsText);
  if (!Number.isInteger(locations) || locations < 1) {
    throw new CaptionerError(`${path}: schema metadata "locations" must be a positive integer, got ${JSON.stringify(locationsText ?? null)}`);
  }
  const image = column<string>(table, 'image', path);
  const split = column<string>(table, 'split', path);
  const references = column<unknown>(table, 'references', path);
  const prediction = column<string>(table, 'prediction', path);
  const attention = column<unknown>(table, 'attention', path);
  const logProb = table.getChild('log_prob');
  const method = table.getChild('method');
  const cider = table.getChild('cider_d');
  const records: PredictionRecord[] = [];
  const methods: string[] = [];
  for (let i = 0; i < table.numRows; i++) {
    const where = `${path}: row ${i} (image ${image.get(i)})`;
    const text = prediction.get(i) ?? '';
    const words = text.split(/\s+/).filter(Boolean);
    const flat = floatValues(attention.get(i));
    if (flat.length % locations !== 0) {
      throw new CaptionerError(`${where}: attention has ${flat.length} values, not a multiple of ${locations} locations`);
    }
    const steps = flat.length / locations;
    if (steps < words.length) {
      throw new CaptionerError(`${where}: ${words.length} predicted words but attention for only ${steps} steps`);
    }
    const m = method ? String(method.get(i)) : 'prediction';
    if (!methods.includes(m)) methods.push(m);
    const lp = logProb ? Number(logProb.get(i)) : NaN;
    const cd = cider ? Number(cider.get(i)) : NaN;
    records.push({
      image: image.get(i),
      split: split.get(i),
      method: m,
      references: listOfStrings(references.get(i)),
      prediction: text,
      words,
      logProb: Number.isFinite(lp) ? lp : null,
      ciderD: Number.isFinite(cd) ? cd : null,
      attention: words.map((_, k) => flat.slice(k * locations, (k + 1) * locations)),
      extraSteps: steps - words.length,
    });
  }
  return { path, locations, records, methods, metadata };
}

/** The featurize manifest's or a model's features.json `grid`, the one field resolveGrid needs. */
const gridOnlySchema = featureSetSchema.pick({ grid: true }).partial();

/**
 * The attention grid [rows, cols]: the predictions' own metadata when present, else the featurize
 * manifest or the trained model's features.json, else a square root of `locations`.
 */
export function resolveGrid(locations: number, sources: { metadata?: Map<string, string>; featurizeDir?: string; trainDir?: string }): Grid {
  const check = (grid: unknown, where: string): Grid | null => {
    if (!Array.isArray(grid) || grid.length !== 2 || !grid.every((n) => Number.isInteger(n) && n > 0)) return null;
    if (grid[0] * grid[1] !== locations) {
      throw new CaptionerError(`${where}: grid ${grid[0]}x${grid[1]} does not match the predictions' ${locations} attention locations`);
    }
    return [grid[0], grid[1]];
  };
  const fromMeta = sources.metadata?.get('grid');
  if (fromMeta) {
    const parsed = check(
      fromMeta
        .split(/[x, [\]]+/)
        .filter(Boolean)
        .map(Number),
      'predictions metadata "grid"',
    );
    if (parsed) return parsed;
  }
  const files = [sources.featurizeDir && join(sources.featurizeDir, 'manifest.json'), sources.trainDir && join(sources.trainDir, 'model', 'features.json')].filter(
    (p): p is string => !!p,
  );
  for (const file of files) {
    if (!existsSync(file)) continue;
    const grid = check(readJson(file, gridOnlySchema, 'featurize').grid, file);
    if (grid) return grid;
  }
  const side = Math.round(Math.sqrt(locations));
  if (side * side === locations) return [side, side];
  throw new CaptionerError(`cannot tell the attention grid shape for ${locations} locations: no "grid" in ${files.join(' or ') || 'the featurize manifest'}`);
}

/** Scores per decoding method from evaluate/metrics.json. */
export interface EvalMetrics {
  /** Metric names in display order (BLEU-1…4, METEOR, CIDEr-D, ROUGE-L, then any others). */
  columns: string[];
  rows: {
    method: string;
    /** e.g. "beam (k=3)". */
    label: string;
    /** Corpus scores on the 0–1 scale. */
    scores: Record<string, number>;
    meanWords: number | null;
    distinctRatio: number | null;
    unfinished: number | null;
  }[];
  split: string | null;
  images: number | null;
}

const METRIC_ORDER = ['BLEU-1', 'BLEU-2', 'BLEU-3', 'BLEU-4', 'METEOR', 'CIDEr-D', 'CIDEr', 'ROUGE-L', 'SPICE'];

/**
 * The part of evaluate's metrics.json (its `evaluateReportSchema`) the report uses, tolerant of
 * reports that lack the rest: any method names, any metrics, decoding and stats fields optional.
 */
const evalReportSchema = evaluateReportSchema
  .pick({ split: true, images: true, scale: true })
  .partial()
  .extend({
    methods: z
      .record(
        z.string(),
        z.object({
          decoding: methodReportSchema.shape.decoding.partial().optional(),
          scores: z.record(z.string(), z.number()),
          stats: methodReportSchema.shape.stats.partial().optional(),
        }),
      )
      .refine((m) => Object.keys(m).length > 0, 'no methods'),
  });

/** Reads evaluate's metrics.json: `{ split, images, scale: "0-1", methods: { <method>: { decoding, scores, stats } } }`. */
export function readEvalMetrics(path: string): EvalMetrics {
  const report = readJson(path, evalReportSchema, 'evaluate');
  const rows = Object.entries(report.methods).map(([method, m]) => ({
    method,
    label: m.decoding?.beam !== undefined && m.decoding.beam > 1 ? `${method} (k=${m.decoding.beam})` : method,
    scores: m.scores,
    meanWords: m.stats?.meanWords ?? null,
    distinctRatio: m.stats?.distinctRatio ?? null,
    unfinished: m.stats?.unfinished ?? null,
  }));
  const all = new Set(rows.flatMap((r) => Object.keys(r.scores)));
  const columns = [...METRIC_ORDER.filter((m) => all.has(m)), ...[...all].filter((m) => !METRIC_ORDER.includes(m)).sort()];
  return { columns, rows, split: report.split ?? null, images: report.images ?? null };
}

/** train's metrics.jsonl rows (its `epochMetricsSchema`); only epoch and trainLoss are required, so older or partial logs still plot. */
const epochSchema = epochMetricsSchema.partial().required({ epoch: true, trainLoss: true });

export type EpochMetrics = z.infer<typeof epochSchema>;

/** train/metrics.jsonl, one epoch per line; a resumed run's repeated epoch keeps its latest line. */
export function readTrainMetrics(path: string): EpochMetrics[] {
  const byEpoch = new Map<number, EpochMetrics>();
  for (const row of readJsonLines(path, epochSchema, 'train')) byEpoch.set(row.epoch, row);
  return [...byEpoch.values()].sort((a, b) => a.epoch - b.epoch);
}
