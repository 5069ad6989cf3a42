import { Float32, Int32, makeVector, RecordBatch, Schema, Table, Utf8, vectorFromArray } from 'apache-arrow';
import { numberListVector, utf8ListVector } from './arrow-columns.js';

import type { DecodingMethod, PredictionLine } from './contract.js';

export type { DecodingMethod };

/** One decoded caption of one image, as stored in predictions.arrow. */
export interface PredictionRow {
  image: string;
  split: string;
  method: DecodingMethod;
  /** Raw reference captions (ingest), in caption_index order. */
  references: string[];
  /** Generated words joined by spaces, without <sos>/<eos>/<pad>. */
  prediction: string;
  /** Token ids of `prediction`'s words (no start/end/pad id). */
  tokens: ArrayLike<number>;
  /** Sum of the log-probabilities of the chosen tokens (including the end token when one was produced). */
  logProb: number;
  /** tokens.length x locations attention weights, row-major (one row per word). */
  attention: Float32Array;
  /** Per-image CIDEr-D (document frequencies over the evaluated split). */
  ciderD: number;
}

export const PREDICTIONS_SCHEMA_VERSION = '1';

/**
 * predictions.arrow: one row per image per decoding method. Schema metadata: `locations` (attention
 * row width), `grid` ("8x8"), `split`, `version`.
 */
export function predictionsTable(rows: readonly PredictionRow[], meta: { locations: number; grid: [number, number]; split: string }): Table {
  const base = new Table({
    image: vectorFromArray(
      rows.map((r) => r.image),
      new Utf8(),
    ),
    split: vectorFromArray(
      rows.map((r) => r.split),
      new Utf8(),
    ),
    method: vectorFromArray(
      rows.map((r) => r.method),
      new Utf8(),
    ),
    references: utf8ListVector(rows.map((r) => r.references)),
    prediction: vectorFromArray(
      rows.map((r) => r.prediction),
      new Utf8(),
    ),
    tokens: numberListVector(
      new Int32(),
      rows.map((r) => r.tokens),
    ),
    log_prob: makeVector(Float32Array.from(rows, (r) => r.logProb)),
    attention: numberListVector(
      new Float32(),
      rows.map((r) => r.attention),
    ),
    cider_d: makeVector(Float32Array.from(rows, (r) => r.ciderD)),
  });
  const schema = new Schema(
    base.schema.fields,
    new Map([
      ['locations', String(meta.locations)],
      ['grid', `${meta.grid[0]}x${meta.grid[1]}`],
      ['split', meta.split],
      ['version', PREDICTIONS_SCHEMA_VERSION],
    ]),
  );
  return new Table(
    schema,
    base.batches.map((b) => new RecordBatch(schema, b.data)),
  );
}

/** predictions.jsonl: one readable line per image with both methods side by side (plus `extra` fields per image, e.g. baselines). */
export function predictionsJsonl(rows: readonly PredictionRow[], extra?: ReadonlyMap<string, Record<string, unknown>>): string {
  const byImage = new Map<string, PredictionLine>();
  for (const r of rows) {
    let entry = byImage.get(r.image);
    if (!entry) byImage.set(r.image, (entry = { image: r.image, split: r.split, references: r.references }));
    entry[r.method] = r.prediction;
    entry[`${r.method}LogProb`] = round(r.logProb, 4);
    entry[`${r.method}CiderD`] = round(r.ciderD, 4);
  }
  return [...byImage.values()].map((e) => JSON.stringify({ ...e, ...extra?.get(e.image) })).join('\n') + (byImage.size ? '\n' : '');
}

export function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
