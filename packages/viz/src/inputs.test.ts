import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Field, Float32, List, Schema, Table, Utf8, vectorFromArray } from 'apache-arrow';
import { describe, expect, it } from 'vitest';
import { writeArrowFile } from '@captioner/core/node';
import { readEvalMetrics, readIngest, readPredictions, readTrainMetrics, resolveGrid } from './inputs.js';
import { LOCATIONS, makeFixture } from '../test/fixtures.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'viz-inputs-'));

function writePredictions(path: string, attention: number[][], predictions: string[], metadata: Record<string, string>) {
  const t = new Table({
    image: vectorFromArray(
      predictions.map((_, i) => `i${i}.jpg`),
      new Utf8(),
    ),
    split: vectorFromArray(
      predictions.map(() => 'test'),
      new Utf8(),
    ),
    references: vectorFromArray(
      predictions.map(() => ['ref one', 'ref two']),
      new List(new Field('item', new Utf8(), true)),
    ),
    prediction: vectorFromArray(predictions, new Utf8()),
    attention: vectorFromArray(attention, new List(new Field('item', new Float32(), true))),
  });
  writeArrowFile(path, new Table(new Schema(t.schema.fields, new Map(Object.entries(metadata))), t.batches));
}

describe('readIngest', () => {
  it('groups captions by image in caption_index order and resolves imagesDir against the root', async () => {
    const f = await makeFixture({ images: 3, withEvaluate: false, withTrain: false });
    const ingest = readIngest(f.dir('ingest'), f.root);
    expect(ingest.imagesDir).toBe(join(f.root, 'data', 'images'));
    expect([...ingest.images.keys()]).toEqual(f.images);
    expect(ingest.images.get(f.images[0])!.captions[0]).toMatch(/^caption 1 of image 0/);
    expect(ingest.images.get(f.images[2])!.captions).toHaveLength(3);
  });

  it('names the missing file and the stage that makes it', () => {
    expect(() => readIngest(tmp(), '/')).toThrow(/missing input .*manifest\.json \(run `captioner ingest` or `npx nx run ingest:run` first\)/);
  });
});

describe('readPredictions', () => {
  it('splits each row’s flattened attention into one map per word and reads the method column', async () => {
    const f = await makeFixture({ images: 3 });
    const p = readPredictions(join(f.dir('evaluate'), 'predictions.arrow'));
    expect(p.locations).toBe(LOCATIONS);
    expect(p.methods).toEqual(['greedy', 'beam']);
    const beam = p.records.find((r) => r.image === f.images[1] && r.method === 'beam')!;
    expect(beam.words).toEqual(f.words.get(f.images[1]));
    expect(beam.attention).toHaveLength(beam.words.length);
    // Word 3 of the fixture attends to cell (3, 6).
    const a = beam.attention[3];
    expect(a.indexOf(Math.max(...a))).toBe(3 * 8 + 6);
    expect(beam.references).toHaveLength(5);
    expect(beam.ciderD).not.toBeNull();
    expect(p.metadata.get('grid')).toBe('8x8');
  });

  it('keeps decoder steps beyond the words (e.g. <eos>) out of the word maps', async () => {
    const f = await makeFixture({ images: 2, methods: false, eosSteps: 1 });
    const p = readPredictions(join(f.dir('evaluate'), 'predictions.arrow'));
    expect(p.methods).toEqual(['prediction']);
    expect(p.records[1].attention).toHaveLength(p.records[1].words.length);
    expect(p.records[1].extraSteps).toBe(1);
  });

  it('names the row and the problem for malformed attention', () => {
    const dir = tmp();
    const path = join(dir, 'p.arrow');
    writePredictions(path, [new Array(8).fill(0.125), new Array(7).fill(0.1)], ['a', 'a dog'], { locations: '8' });
    expect(() => readPredictions(path)).toThrow(/row 1 \(image i1\.jpg\): attention has 7 values, not a multiple of 8/);
    writePredictions(path, [new Array(8).fill(0.125)], ['a dog'], { locations: '8' });
    expect(() => readPredictions(path)).toThrow(/row 0 .*2 predicted words but attention for only 1 steps/);
    writePredictions(path, [new Array(8).fill(0.125)], ['a'], {});
    expect(() => readPredictions(path)).toThrow(/schema metadata "locations" must be a positive integer/);
  });
});

describe('resolveGrid', () => {
  it('prefers metadata, then the featurize manifest, then a square root', () => {
    const dir = tmp();
    expect(resolveGrid(64, { metadata: new Map([['grid', '8x8']]) })).toEqual([8, 8]);
    writeFileSync(join(dir, 'manifest.json'), JSON.stringify({ grid: [4, 6] }));
    expect(resolveGrid(24, { featurizeDir: dir })).toEqual([4, 6]);
    expect(() => resolveGrid(64, { featurizeDir: dir })).toThrow(/grid 4x6 does not match the predictions' 64/);
    expect(resolveGrid(49, {})).toEqual([7, 7]);
    expect(() => resolveGrid(24, {})).toThrow(/cannot tell the attention grid shape for 24 locations/);
  });
});

describe('readEvalMetrics', () => {
  const write = (value: unknown) => {
    const path = join(tmp(), 'metrics.json');
    writeFileSync(path, JSON.stringify(value));
    return path;
  };

  it('reads per-method scores (evaluate’s schema) in the standard column order', () => {
    const m = readEvalMetrics(
      write({
        split: 'test',
        images: 1000,
        scale: '0-1',
        methods: {
          greedy: {
            decoding: { method: 'greedy', maxSteps: 30 },
            scores: { 'ROUGE-L': 0.39, 'BLEU-1': 0.55, 'CIDEr-D': 0.45, 'BLEU-4': 0.18 },
            stats: { meanWords: 9.1, distinctRatio: 0.3 },
          },
          beam: { decoding: { method: 'beam', beam: 3 }, scores: { 'BLEU-1': 0.6, 'BLEU-4': 0.2, 'CIDEr-D': 0.5, 'ROUGE-L': 0.4 } },
        },
        x100: { greedy: { 'BLEU-1': 55 } },
      }),
    );
    expect(m.columns).toEqual(['BLEU-1', 'BLEU-4', 'CIDEr-D', 'ROUGE-L']);
    expect(m.rows.map((r) => r.label)).toEqual(['greedy', 'beam (k=3)']);
    expect(m.rows[0]).toMatchObject({ meanWords: 9.1, distinctRatio: 0.3, unfinished: null });
    expect([m.split, m.images]).toEqual(['test', 1000]);
  });

  it('names the field that does not fit the schema', () => {
    expect(() => readEvalMetrics(write({ split: 'test' }))).toThrow(/metrics\.json: field "methods"/);
    expect(() => readEvalMetrics(write({ methods: { beam: { scores: { 'BLEU-1': 'high' } } } }))).toThrow(/field "methods\.beam\.scores\.BLEU-1"/);
    expect(() => readEvalMetrics(write({ methods: {} }))).toThrow(/field "methods": no methods/);
    const bad = join(tmp(), 'm.json');
    writeFileSync(bad, '{oops');
    expect(() => readEvalMetrics(bad)).toThrow(/m\.json: not valid JSON/);
  });
});

describe('readTrainMetrics', () => {
  it('reads epochs in order, the latest line winning for a repeated epoch', () => {
    const path = join(tmp(), 'metrics.jsonl');
    writeFileSync(
      path,
      [
        '{"epoch":2,"trainLoss":2.5,"valLoss":null}',
        '{"epoch":1,"trainLoss":3,"valLoss":3.1,"tokensPerSec":9000,"gradNorm":1.2}',
        '',
        '{"epoch":2,"trainLoss":2.4,"valLoss":2.9}',
      ].join('\n'),
    );
    const epochs = readTrainMetrics(path);
    expect(epochs.map((e) => [e.epoch, e.trainLoss])).toEqual([
      [1, 3],
      [2, 2.4],
    ]);
  });

  it('names the line and field of bad input', () => {
    const path = join(tmp(), 'metrics.jsonl');
    writeFileSync(path, '{"epoch":1,"trainLoss":3}\n{"epoch":2,"trainLoss":"x"}\n');
    expect(() => readTrainMetrics(path)).toThrow(/metrics\.jsonl:2: field "trainLoss"/);
    writeFileSync(path, '{"epoch":1,"trainLoss":3}\nnot json\n');
    expect(() => readTrainMetrics(path)).toThrow(/metrics\.jsonl:2: not valid JSON/);
  });
});
