import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Table } from 'apache-arrow';
import { z } from 'zod';
import { CaptionerError, column, fromRoot, readArrowFile } from '@captioner/core';
import type { Grid } from '@captioner/caption';

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

function readJsonFile(path: string, producedBy: string): unknown {
  if (!existsSync(path)) throw new CaptionerError(`missing input ${path} (run \`captioner ${producedBy}\` first)`);
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new CaptionerError(`${path}: not valid JSON: ${(err as Error).message}`);
  }
}

/** ingest/captions.arrow grouped by image (captions in caption_index order) + the images folder from manifest.json. */
export function readIngest(ingestDir: string, root: string): IngestData {
  const manifestPath = join(ingestDir, 'manifest.json');
  const manifest = readJsonFile(manifestPath, 'ingest') as { imagesDir?: unknown };
  if (typeof manifest.imagesDir !== 'string' || !manifest.imagesDir) {
    throw new CaptionerError(`${manifestPath}: field "imagesDir" must be a non-empty string`);
  }
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
    const parsed = check(fromMeta.split(/[x, [\]]+/).filter(Boolean).map(Number), 'predictions metadata "grid"');
    if (parsed) return parsed;
  }
  const files = [
    sources.featurizeDir && join(sources.featurizeDir, 'manifest.json'),
    sources.trainDir && join(sources.trainDir, 'model', 'features.json'),
  ].filter((p): p is string => !!p);
  for (const file of files) {
    if (!existsSync(file)) continue;
    const grid = check((readJsonFile(file, 'featurize') as { grid?: unknown }).grid, file);
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

const methodReportSchema = z
  .object({
    decoding: z.object({ beam: z.number().optional() }).loose().optional(),
    scores: z.record(z.string(), z.number()),
    stats: z
      .object({ meanWords: z.number().optional(), distinctRatio: z.number().optional(), unfinished: z.number().optional() })
      .loose()
      .optional(),
  })
  .loose();

const evalReportSchema = z
  .object({
    split: z.string().optional(),
    images: z.number().optional(),
    scale: z.literal('0-1').optional(),
    methods: z.record(z.string(), methodReportSchema).refine((m) => Object.keys(m).length > 0, 'no methods'),
  })
  .loose();

/** Reads evaluate's metrics.json: `{ split, images, scale: "0-1", methods: { <method>: { decoding, scores, stats } } }`. */
export function readEvalMetrics(path: string): EvalMetrics {
  const parsed = evalReportSchema.safeParse(readJsonFile(path, 'evaluate'));
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new CaptionerError(`${path}: field "${issue.path.join('.') || '(top level)'}": ${issue.message}`);
  }
  const report = parsed.data;
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

const epochSchema = z
  .object({
    epoch: z.number().int().min(0),
    trainLoss: z.number(),
    valLoss: z.number().nullable().optional(),
    tokensPerSec: z.number().nullable().optional(),
    epochSeconds: z.number().nullable().optional(),
    lr: z.number().nullable().optional(),
  })
  .loose();

export type EpochMetrics = z.infer<typeof epochSchema>;

/** train/metrics.jsonl, one epoch per line; a resumed run's repeated epoch keeps its latest line. */
export function readTrainMetrics(path: string): EpochMetrics[] {
  if (!existsSync(path)) throw new CaptionerError(`missing input ${path} (run \`captioner train\` first)`);
  const byEpoch = new Map<number, EpochMetrics>();
  readFileSync(path, 'utf8')
    .split('\n')
    .forEach((line, i) => {
      if (!line.trim()) return;
      let value: unknown;
      try {
        value = JSON.parse(line);
      } catch (err) {
        throw new CaptionerError(`${path}:${i + 1}: not valid JSON: ${(err as Error).message}`);
      }
      const parsed = epochSchema.safeParse(value);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        throw new CaptionerError(`${path}:${i + 1}: field "${issue.path.join('.') || '(line)'}": ${issue.message}`);
      }
      byEpoch.set(parsed.data.epoch, parsed.data);
    });
  return [...byEpoch.values()].sort((a, b) => a.epoch - b.epoch);
}
