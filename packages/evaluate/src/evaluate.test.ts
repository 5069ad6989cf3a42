import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeVector, Table, Utf8, vectorFromArray } from 'apache-arrow';
import { evaluateSchema, readArrowFile, writeArrowFile } from '@captioner/core';
import { openFeatureStore } from '@captioner/featurize';
import { CaptionModel, beamSearch, greedyDecode } from '@captioner/model';
import { tf } from '@captioner/tf';
import { readEvalMetrics, readPredictions } from '@captioner/viz';
import { cleanedReferenceTokens, runEvaluate } from './evaluate.js';
import { cocoTokenize, scoreCaptions } from './metrics/index.js';
import { createTinyPipeline, LOCATIONS, type TinyPipeline } from './pipeline.fixture.js';

let p: TinyPipeline;
beforeAll(async () => {
  p = await createTinyPipeline();
});
afterAll(() => {
  if (p) rmSync(p.root, { recursive: true, force: true });
});

const config = (over: Record<string, unknown> = {}) => evaluateSchema.parse({ beam: 2, batchSize: 3, ...over });
const run = (over: Record<string, unknown> = {}, outDir = p.outDir) =>
  runEvaluate({ modelDir: p.modelDir, featurizeDir: p.featurizeDir, ingestDir: p.ingestDir, outDir, config: config(over), progressIntervalMs: 60_000 });

describe('runEvaluate on a tiny model', () => {
  it('writes predictions.arrow, predictions.jsonl and metrics.json with the documented schema', async () => {
    const report = await run();
    expect(report.images).toBe(4);
    expect(report.skipped.failed).toEqual(['broken.jpg']);
    expect(report.checkpoint).toMatchObject({ path: p.modelDir, epoch: 2, lastEpoch: 3, valLoss: 1.25 });

    const table = readArrowFile(join(p.outDir, 'predictions.arrow'));
    expect(table.schema.fields.map((f) => `${f.name}:${f.type}`)).toEqual([
      'image:Utf8',
      'split:Utf8',
      'method:Utf8',
      'references:List<Utf8>',
      'prediction:Utf8',
      'tokens:List<Int32>',
      'log_prob:Float32',
      'attention:List<Float32>',
      'cider_d:Float32',
    ]);
    expect(table.schema.metadata.get('locations')).toBe(String(LOCATIONS));
    expect(table.schema.metadata.get('grid')).toBe('2x2');
    expect(table.numRows).toBe(8);
    const rows = table.toArray().map((r) => r.toJSON());
    const methods = rows.map((r) => r.method);
    expect(methods.filter((m) => m === 'greedy')).toHaveLength(4);
    expect(methods.filter((m) => m === 'beam')).toHaveLength(4);
    for (const r of rows) {
      expect(p.testImages).toContain(r.image);
      expect(r.split).toBe('test');
      // caption_index order, although ingest stored the rows reversed
      expect([...r.references]).toEqual(p.captions.get(r.image));
      const tokens = [...r.tokens];
      expect(r.prediction.split(' ').filter(Boolean)).toHaveLength(tokens.length);
      expect(r.attention.length).toBe(tokens.length * LOCATIONS);
      for (let t = 0; t < tokens.length; t++) {
        const sum = [...r.attention.slice(t * LOCATIONS, (t + 1) * LOCATIONS)].reduce((a: number, b: number) => a + b, 0);
        expect(sum).toBeCloseTo(1, 4);
      }
      expect(Number.isFinite(r.log_prob) && r.log_prob < 0).toBe(true);
    }

    const jsonl = readFileSync(join(p.outDir, 'predictions.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(jsonl).toHaveLength(4);
    for (const line of jsonl) {
      expect(Object.keys(line)).toEqual(expect.arrayContaining(['image', 'references', 'greedy', 'beam']));
      const greedyRow = rows.find((r) => r.image === line.image && r.method === 'greedy')!;
      expect(line.greedy).toBe(greedyRow.prediction);
    }

    const metrics = JSON.parse(readFileSync(join(p.outDir, 'metrics.json'), 'utf8'));
    expect(metrics).toMatchObject({ split: 'test', images: 4, scale: '0-1' });
    expect(metrics.methods.beam.decoding).toMatchObject({ method: 'beam', beam: 2, maxSteps: 6 });
    expect(metrics.methods.greedy.decoding).toMatchObject({ method: 'greedy', maxSteps: 6 });
    // The stored corpus scores are exactly what the metrics give for the stored predictions.
    for (const method of ['greedy', 'beam'] as const) {
      const items = p.testImages.map((image) => {
        const row = rows.find((r) => r.image === image && r.method === method)!;
        return { candidate: cocoTokenize(row.prediction), references: p.captions.get(image)!.map(cocoTokenize) };
      });
      const expected = scoreCaptions(items).corpus;
      for (const [k, v] of Object.entries(expected)) {
        expect(metrics.methods[method].scores[k]).toBeCloseTo(v, 12);
        expect(metrics.x100[method][k]).toBeCloseTo(v * 100, 2);
      }
      const cleaned = scoreCaptions(items.map((it, i) => ({ ...it, references: p.captions.get(p.testImages[i])!.map(cleanedReferenceTokens) }))).corpus;
      for (const [k, v] of Object.entries(cleaned)) expect(metrics.x100CleanedReferences[method][k]).toBeCloseTo(v * 100, 2);
    }
    expect(metrics.metricNotes.METEOR).toMatch(/not computed/);

    // The viz stage reads both files back: same rows, one attention map per word, only real scores.
    const forViz = readPredictions(join(p.outDir, 'predictions.arrow'));
    expect(forViz.locations).toBe(LOCATIONS);
    expect(forViz.methods).toEqual(['greedy', 'beam']);
    for (const r of forViz.records) expect(r.attention).toHaveLength(r.prediction ? r.prediction.split(' ').length : 0);
    const vizMetrics = readEvalMetrics(join(p.outDir, 'metrics.json'));
    expect(vizMetrics.rows.map((r) => r.method)).toEqual(['greedy', 'beam']);
    expect(vizMetrics.columns).toEqual(['BLEU-1', 'BLEU-2', 'BLEU-3', 'BLEU-4', 'CIDEr-D', 'ROUGE-L']);
    expect(vizMetrics.rows[1].scores['CIDEr-D']).toBe(metrics.methods.beam.scores['CIDEr-D']);
  });

  it('cleans references the way text-clean cleans training captions, so a caption the model could say scores 100', () => {
    expect(cleanedReferenceTokens('A dog runs, in a park.')).toEqual(['dog', 'runs', 'in', 'park']);
    expect(cleanedReferenceTokens("A man's T-shirt is 2 sizes too big .")).toEqual(['mans', 'tshirt', 'is', 'sizes', 'too', 'big']);
    const references = ['A dog runs in a park .', 'The dog is running on the grass .'];
    const item = (refs: string[][]) => [{ candidate: ['dog', 'runs', 'in', 'park'], references: refs }];
    expect(scoreCaptions(item(references.map(cleanedReferenceTokens))).corpus['BLEU-4']).toBeCloseTo(1, 6);
    expect(scoreCaptions(item(references.map(cocoTokenize))).corpus['BLEU-4']).toBeLessThan(0.5);
  });

  it('decodes in batches exactly as one image at a time', async () => {
    await run({ batchSize: 3 });
    const table = readArrowFile(join(p.outDir, 'predictions.arrow'));
    const rows = table.toArray().map((r) => r.toJSON());
    const model = await CaptionModel.load(p.modelDir);
    const store = openFeatureStore(p.featurizeDir);
    try {
      for (const image of p.testImages) {
        const features = tf.tensor3d(store.get(image), [1, LOCATIONS, 4]);
        const opts = { startId: 2, endId: 3, maxLength: 6, words: model.words };
        const greedy = greedyDecode(model, features, opts)[0];
        const beam = beamSearch(model, features, { ...opts, beam: 2 })[0];
        features.dispose();
        expect(rows.find((r) => r.image === image && r.method === 'greedy')!.prediction).toBe(greedy.words.join(' '));
        expect(rows.find((r) => r.image === image && r.method === 'beam')!.prediction).toBe(beam.words.join(' '));
      }
    } finally {
      model.dispose();
      store.close();
    }
  });

  it('honours limit and maxLength and replaces the output folder', async () => {
    const report = await run({ limit: 2, maxLength: 3 });
    expect(report.images).toBe(2);
    expect(report.skipped.overLimit).toBe(2);
    const rows = readArrowFile(join(p.outDir, 'predictions.arrow')).toArray().map((r) => r.toJSON());
    expect(rows).toHaveLength(4);
    for (const r of rows) expect([...r.tokens].length).toBeLessThanOrEqual(3);
    expect(readFileSync(join(p.outDir, 'predictions.jsonl'), 'utf8').trim().split('\n')).toHaveLength(2);
  });

  it('fails clearly when nothing can be evaluated, leaving no output', async () => {
    const outDir = join(p.root, 'stages', 'evaluate-failing');
    // An ingest table whose test split only names images the feature store does not have.
    const ingestDir = join(p.root, 'stages', 'ingest-unfeaturized');
    writeArrowFile(
      join(ingestDir, 'captions.arrow'),
      new Table({
        image: vectorFromArray(['zzz.png', 'broken.jpg'], new Utf8()),
        caption: vectorFromArray(['A dog.', 'A cat.'], new Utf8()),
        caption_index: makeVector(Int32Array.from([0, 0])),
        split: vectorFromArray(['test', 'test'], new Utf8()),
      }),
    );
    const attempt = (over: Partial<Parameters<typeof runEvaluate>[0]>) =>
      runEvaluate({ modelDir: p.modelDir, featurizeDir: p.featurizeDir, ingestDir, outDir, config: config(), ...over });
    await expect(attempt({})).rejects.toThrow(/no test images with features to evaluate \(2 in the split/);
    await expect(attempt({ config: config({ split: 'val' }) })).rejects.toThrow(/no images in split "val" \(splits present: test\)/);
    await expect(attempt({ modelDir: join(p.root, 'nope') })).rejects.toThrow(/model folder not found: .*nope/);
    await expect(attempt({ featurizeDir: join(p.root, 'missing') })).rejects.toThrow(/missing .*manifest\.json/);
    expect(existsSync(outDir)).toBe(false);
  });
});
