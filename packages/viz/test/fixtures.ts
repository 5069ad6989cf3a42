/**
 * Test fixtures: a tiny workspace with the files viz reads (ingest captions + manifest + images,
 * train metrics, evaluate predictions + scores), built from scratch so tests need no real data.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Field, Float32, Float64, Int32, List, Schema, Table, Utf8, vectorFromArray, type Vector } from 'apache-arrow';
import sharp from 'sharp';
import { writeArrowFile } from '@captioner/core/node';
import { captionsTable, type CaptionRow } from '@captioner/ingest';

export const GRID: [number, number] = [8, 8];
export const LOCATIONS = GRID[0] * GRID[1];

/** Attention concentrated on one grid cell (plus a little everywhere), summing to 1. */
export function peakedAttention(row: number, col: number, grid: [number, number] = GRID): Float32Array {
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

export interface FixtureOptions {
  images?: number;
  withTrain?: boolean;
  withEvaluate?: boolean;
  /** Add a `method` column with greedy + beam rows. */
  methods?: boolean;
  /** Decoder steps recorded per row beyond the words (e.g. 1 for the <eos> step). */
  eosSteps?: number;
}

export interface Fixture {
  root: string;
  stagesDir: string;
  dir(stage: string): string;
  images: string[];
  /** Predicted words per image (same for every method but the last word). */
  words: Map<string, string[]>;
}

const VOCAB = ['a', 'dog', 'runs', 'on', 'the', 'grass', 'with', 'ball', 'red', 'child', 'jumps', 'into', 'water', 'near', 'tree', 'and'];

/** Builds the fixture workspace in a fresh temp folder. */
export async function makeFixture(opts: FixtureOptions = {}): Promise<Fixture> {
  const { images: count = 5, withTrain = true, withEvaluate = true, methods = true, eosSteps = 0 } = opts;
  const root = mkdtempSync(join(tmpdir(), 'viz-fixture-'));
  writeFileSync(join(root, 'nx.json'), '{}\n');
  const stagesDir = join(root, 'data', 'stages');
  const dir = (stage: string) => join(stagesDir, stage);
  const imagesDir = join(root, 'data', 'images');
  mkdirSync(imagesDir, { recursive: true });
  const images: string[] = [];
  for (let i = 0; i < count; i++) {
    const name = `img_${String(i).padStart(2, '0')}.jpg`;
    // Mixed aspect ratios: landscape, portrait and square.
    await makeImage(join(imagesDir, name), [200, 150, 180][i % 3], [150, 200, 180][i % 3], i + 1);
    images.push(name);
  }

  // ingest: 5 captions per image (the last image has 3, as a real corpus may), relative imagesDir.
  const rows: CaptionRow[] = [];
  images.forEach((image, i) => {
    const n = i === count - 1 ? 3 : 5;
    for (let k = 0; k < n; k++)
      rows.push({ image, caption: `caption ${k + 1} of image ${i}: a dog runs on the grass with a red ball near the tree`, captionIndex: k, split: i % 2 ? 'test' : 'train' });
  });
  mkdirSync(dir('ingest'), { recursive: true });
  writeArrowFile(join(dir('ingest'), 'captions.arrow'), captionsTable(rows));
  writeFileSync(join(dir('ingest'), 'manifest.json'), JSON.stringify({ imagesDir: 'data/images', layout: 'kaggle', splitSource: 'test' }));

  if (withTrain) {
    mkdirSync(dir('train'), { recursive: true });
    const lines = Array.from({ length: 6 }, (_, e) =>
      JSON.stringify({ epoch: e + 1, trainLoss: 3 / (e + 1) + 0.8, valLoss: e === 2 ? null : 3.2 / (e + 1) + 1, tokensPerSec: 9000 + 100 * e, epochSeconds: 40 - e, lr: 1e-3 }),
    );
    writeFileSync(join(dir('train'), 'metrics.jsonl'), lines.join('\n') + '\n');
  }

  const words = new Map<string, string[]>();
  if (withEvaluate) {
    const methodNames = methods ? ['greedy', 'beam'] : [null];
    const pred: { image: string; split: string; refs: string[]; prediction: string; tokens: number[]; logProb: number; attention: Float32Array; method: string | null }[] = [];
    images.forEach((image, i) => {
      // Lengths 1, 4, 7, 13, … so layouts with odd and tiny word counts are exercised.
      const len = [1, 4, 7, 13, 20][i % 5];
      const w = Array.from({ length: len }, (_, k) => VOCAB[(i + k) % VOCAB.length]);
      words.set(image, w);
      for (const method of methodNames) {
        const steps = len + eosSteps;
        const attention = new Float32Array(steps * LOCATIONS);
        // Word k looks at cell (k mod 8, (2k) mod 8): distinct, predictable hot spots.
        for (let k = 0; k < steps; k++) attention.set(peakedAttention(k % 8, (2 * k) % 8), k * LOCATIONS);
        const ws = method === 'greedy' ? [...w.slice(0, -1), 'greedy'] : w;
        pred.push({
          image,
          split: 'test',
          refs: rows.filter((r) => r.image === image).map((r) => r.caption),
          prediction: ws.join(' '),
          tokens: Array.from({ length: steps }, (_, k) => k + 2),
          logProb: -1.5 * len,
          attention,
          method,
        });
      }
    });
    const columns: Record<string, Vector> = {
      image: vectorFromArray(
        pred.map((p) => p.image),
        new Utf8(),
      ),
      split: vectorFromArray(
        pred.map((p) => p.split),
        new Utf8(),
      ),
      references: vectorFromArray(
        pred.map((p) => p.refs),
        new List(new Field('item', new Utf8(), true)),
      ),
      prediction: vectorFromArray(
        pred.map((p) => p.prediction),
        new Utf8(),
      ),
      tokens: vectorFromArray(
        pred.map((p) => p.tokens),
        new List(new Field('item', new Int32(), true)),
      ),
      log_prob: vectorFromArray(
        pred.map((p) => p.logProb),
        new Float64(),
      ),
      attention: vectorFromArray(
        pred.map((p) => Array.from(p.attention)),
        new List(new Field('item', new Float32(), true)),
      ),
      cider_d: vectorFromArray(
        pred.map((_, i) => 0.1 * (i % 7)),
        new Float32(),
      ),
    };
    if (methods)
      columns.method = vectorFromArray(
        pred.map((p) => p.method!),
        new Utf8(),
      );
    const table = new Table(columns);
    const withMeta = new Table(
      new Schema(
        table.schema.fields,
        new Map([
          ['locations', String(LOCATIONS)],
          ['grid', `${GRID[0]}x${GRID[1]}`],
        ]),
      ),
      table.batches,
    );
    mkdirSync(dir('evaluate'), { recursive: true });
    writeArrowFile(join(dir('evaluate'), 'predictions.arrow'), withMeta);
    writeFileSync(
      join(dir('evaluate'), 'metrics.json'),
      JSON.stringify({
        split: 'test',
        images: count,
        scale: '0-1',
        methods: {
          greedy: {
            decoding: { method: 'greedy', maxSteps: 20 },
            scores: { 'BLEU-1': 0.55, 'BLEU-2': 0.35, 'BLEU-3': 0.22, 'BLEU-4': 0.14, 'CIDEr-D': 0.4, 'ROUGE-L': 0.42 },
            stats: { meanWords: 9, distinctRatio: 0.8, unfinished: 0 },
          },
          beam: {
            decoding: { method: 'beam', beam: 3, maxSteps: 20 },
            scores: { 'BLEU-1': 0.58, 'BLEU-2': 0.37, 'BLEU-3': 0.24, 'BLEU-4': 0.15, 'CIDEr-D': 0.45, 'ROUGE-L': 0.41 },
            stats: { meanWords: 8.5, distinctRatio: 0.6, unfinished: 0 },
          },
        },
        x100: {},
        createdAt: '2026-01-01T00:00:00.000Z',
      }),
    );
    mkdirSync(dir('featurize'), { recursive: true });
    writeFileSync(join(dir('featurize'), 'manifest.json'), JSON.stringify({ grid: GRID, locations: LOCATIONS }));
  }
  return { root, stagesDir, dir, images, words };
}
