/** Synthetic stage inputs for tests: tokenize outputs and an in-memory feature store. */
import { mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Field, FixedSizeList, Float32, Int32, makeData, makeVector, RecordBatch, Schema, Struct, Table, Utf8, vectorFromArray } from 'apache-arrow';
import { seededRandom } from '@captioner/core';
import { writeArrowFile } from '@captioner/core/node';
import { settingsHash, type FeatureSettings } from '@captioner/featurize';
import type { FeatureStoreLike } from './dataset.js';

export interface TokensFixture {
  images: string[];
  splitOf: Map<string, string>;
  rows: { image: string; split: string; length: number; tokens: number[] }[];
  vocabSize: number;
  maxLength: number;
}

/**
 * Writes tokens.arrow + vocab.json: `captionsPerImage` captions per image, lengths spread over
 * 3..maxLength, token ids drawn so that a model can learn something (each image has a favourite word).
 */
export function writeTokensFixture(
  dir: string,
  opts: { train: number; val: number; test?: number; captionsPerImage?: number; maxLength?: number; vocabSize?: number; seed?: number },
): TokensFixture {
  const captionsPerImage = opts.captionsPerImage ?? 5;
  const maxLength = opts.maxLength ?? 12;
  const vocabSize = opts.vocabSize ?? 30;
  const random = seededRandom(opts.seed ?? 7);
  const images: string[] = [];
  const splitOf = new Map<string, string>();
  for (const [split, n] of [
    ['train', opts.train],
    ['val', opts.val],
    ['test', opts.test ?? 0],
  ] as const) {
    for (let i = 0; i < n; i++) {
      const image = `${split}-${String(i).padStart(4, '0')}.jpg`;
      images.push(image);
      splitOf.set(image, split);
    }
  }
  const rows: TokensFixture['rows'] = [];
  images.forEach((image, imageId) => {
    for (let c = 0; c < captionsPerImage; c++) {
      const length = 3 + Math.floor(random() * (maxLength - 2));
      const favourite = 4 + (imageId % (vocabSize - 4));
      const tokens = [2]; // <sos>
      for (let t = 1; t < length - 1; t++) tokens.push(random() < 0.5 ? favourite : 4 + Math.floor(random() * (vocabSize - 4)));
      tokens.push(3); // <eos>
      rows.push({ image, split: splitOf.get(image)!, length, tokens });
    }
  });
  // Interleave splits, as ingest does (row order is not split order).
  const order = rows.map((_, i) => i).sort((a, b) => ((a * 7919) % rows.length) - ((b * 7919) % rows.length));
  const sorted = order.map((i) => rows[i]);
  const flat = new Int32Array(sorted.length * maxLength);
  sorted.forEach((r, i) => flat.set(r.tokens, i * maxLength));
  const listType = new FixedSizeList(maxLength, new Field('item', new Int32(), false));
  const table = new Table({
    image: vectorFromArray(
      sorted.map((r) => r.image),
      new Utf8(),
    ),
    caption_index: makeVector(Int32Array.from(sorted.map((_, i) => i % captionsPerImage))),
    split: vectorFromArray(
      sorted.map((r) => r.split),
      new Utf8(),
    ),
    tokens: makeVector(makeData({ type: listType, length: sorted.length, nullCount: 0, child: makeData({ type: new Int32(), length: flat.length, data: flat }) })),
    length: makeVector(Int32Array.from(sorted.map((r) => r.length))),
  });
  mkdirSync(dir, { recursive: true });
  writeArrowFile(join(dir, 'tokens.arrow'), table);
  const wordIndex: Record<string, number> = { '<unk>': 1, '<sos>': 2, '<eos>': 3 };
  for (let i = 4; i < vocabSize; i++) wordIndex[`w${i}`] = i;
  writeFileSync(join(dir, 'vocab.json'), JSON.stringify({ numWords: vocabSize, vocabSize, oovToken: '<unk>', padToken: '<pad>', maxLength, wordIndex, wordCounts: {} }));
  return { images, splitOf, rows: sorted, vocabSize, maxLength };
}

/** The feature settings of the fixture stores (a valid feature set, as featurize would record it). */
export const TEST_FEATURE_SETTINGS: FeatureSettings = {
  backbone: 'inception_v3',
  layer: 'mixed10',
  scaling: '0,1',
  dtype: 'float32',
  inputSize: 299,
  halfPixelCenters: false,
  alpha: 'dropped',
  weightsHash: 'test-weights',
  preprocessVersion: 1,
};

/** Deterministic features per image (a function of the image name), split into shards of `perShard`. */
export function memoryStore(
  images: string[],
  opts: { locations: number; dim: number; perShard: number; failed?: string[]; omit?: string[] },
): FeatureStoreLike & { gets: string[] } {
  const failed = new Set(opts.failed ?? []);
  const omitted = new Set(opts.omit ?? []);
  const stored = images.filter((i) => !failed.has(i) && !omitted.has(i));
  const shards = [];
  for (let i = 0; i < stored.length; i += opts.perShard) {
    const shardImages = stored.slice(i, i + opts.perShard);
    shards.push({ file: `features-${String(shards.length).padStart(5, '0')}.arrow`, rows: shardImages.length, images: shardImages });
  }
  const set = new Set(stored);
  const gets: string[] = [];
  return {
    manifest: {
      ...TEST_FEATURE_SETTINGS,
      grid: [1, opts.locations],
      locations: opts.locations,
      dim: opts.dim,
      weights: null,
      shards,
      failed: [...failed].map((image) => ({ image, reason: 'test' })),
    },
    images: stored,
    gets,
    has: (image) => set.has(image),
    get: (image) => {
      if (!set.has(image)) throw new Error(`no features for ${image}`);
      gets.push(image);
      return syntheticFeatures(image, opts.locations * opts.dim);
    },
  };
}

/** Features that are a pure function of the image name. */
export function syntheticFeatures(image: string, length: number): Float32Array {
  const seed = [...image].reduce((h, ch) => Math.imul(h ^ ch.charCodeAt(0), 16777619) >>> 0, 2166136261);
  const random = seededRandom(seed);
  const out = new Float32Array(length);
  for (let i = 0; i < length; i++) out[i] = random();
  return out;
}

/**
 * Writes a featurize output folder in the stage's on-disk format (float32 shards + manifest.json),
 * read back through the real `openFeatureStore`.
 */
export function writeFeatureStoreFixture(dir: string, images: string[], opts: { locations: number; dim: number; perShard: number; failed?: string[] }): void {
  mkdirSync(dir, { recursive: true });
  const failed = new Set(opts.failed ?? []);
  const stored = images.filter((i) => !failed.has(i));
  const rowLength = opts.locations * opts.dim;
  const settings = TEST_FEATURE_SETTINGS;
  const hash = settingsHash(settings);
  const item = new Field('item', new Float32(), false);
  const schema = new Schema(
    [new Field('image', new Utf8(), false), new Field('hash', new Utf8(), false), new Field('features', new FixedSizeList(rowLength, item), false)],
    new Map([['captioner.featurize.settingsHash', hash]]),
  );
  const shards: { file: string; rows: number; bytes: number; images: string[]; hashes: string[] }[] = [];
  for (let i = 0; i < stored.length; i += opts.perShard) {
    const rows = stored.slice(i, i + opts.perShard);
    const values = new Float32Array(rows.length * rowLength);
    rows.forEach((image, r) => values.set(syntheticFeatures(image, rowLength), r * rowLength));
    const list = makeData({
      type: schema.fields[2].type as FixedSizeList,
      length: rows.length,
      nullCount: 0,
      child: makeData({ type: new Float32(), length: values.length, nullCount: 0, data: values }),
    });
    const hashes = rows.map((r) => `sha-${r}`);
    const struct = makeData({
      type: new Struct(schema.fields),
      length: rows.length,
      nullCount: 0,
      children: [vectorFromArray(rows, new Utf8()).data[0], vectorFromArray(hashes, new Utf8()).data[0], list],
    });
    const file = `features-${String(shards.length).padStart(5, '0')}.arrow`;
    writeArrowFile(join(dir, file), new Table([new RecordBatch(schema, struct)]));
    shards.push({ file, rows: rows.length, bytes: statSync(join(dir, file)).size, images: rows, hashes });
  }
  const manifest = {
    version: 1,
    ...settings,
    grid: [1, opts.locations],
    locations: opts.locations,
    dim: opts.dim,
    settingsHash: hash,
    weights: null,
    engine: 'test',
    shards,
    failed: [...failed].map((image) => ({ image, reason: 'test: unreadable' })),
    counts: { images: images.length, features: stored.length, computed: stored.length, reused: 0, failed: failed.size },
    timeSec: 0,
    computeSec: 0,
    imagesPerSec: 0,
    peakRssMiB: 0,
    createdAt: new Date(0).toISOString(),
  };
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest, null, 2));
}

/**
 * ingest's captions.arrow for a tokens fixture: each caption's raw text is its words ("w5 w9 …"),
 * so greedy captions can be scored against references as the train stage does for selectBy valCIDEr.
 */
export function writeReferencesFixture(dir: string, fixture: TokensFixture): void {
  const words = (tokens: number[]) =>
    tokens
      .slice(1, -1)
      .map((t) => `w${t}`)
      .join(' ');
  const perImage = new Map<string, number>();
  const index = fixture.rows.map((r) => {
    const i = perImage.get(r.image) ?? 0;
    perImage.set(r.image, i + 1);
    return i;
  });
  mkdirSync(dir, { recursive: true });
  writeArrowFile(
    join(dir, 'captions.arrow'),
    new Table({
      image: vectorFromArray(
        fixture.rows.map((r) => r.image),
        new Utf8(),
      ),
      caption: vectorFromArray(
        fixture.rows.map((r) => words(r.tokens)),
        new Utf8(),
      ),
      caption_index: makeVector(Int32Array.from(index)),
      split: vectorFromArray(
        fixture.rows.map((r) => r.split),
        new Utf8(),
      ),
    }),
  );
}
