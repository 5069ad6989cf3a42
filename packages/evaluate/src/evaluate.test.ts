import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeVector, Table, Utf8, vectorFromArray } from 'apache-arrow';
import { evaluateSchema } from '@captioner/core';
import { readArrowFile, readJson, readJsonLines, writeArrowFile } from '@captioner/core/node';
import { openFeatureStore } from '@captioner/featurize';
import { CaptionModel, beamSearch, greedyDecode } from '@captioner/model';
import { tf } from '@captioner/tf';
import { cleanedReferenceTokens, runEvaluate } from './evaluate.js';
import { evaluateReportSchema, predictionLineSchema } from './contract.js';
import { cocoTokenize, scoreCaptions } from '@captioner/metrics';
import { createTinyPipeline, LOCATIONS, saveConstantWordModel, type TinyPipeline } from './pipeline.fixture.js';

let p: TinyPipeline;
beforeAll(async () => {
  p = await createTinyPipeline();
});
afterAll(() => {
  if (p) rmSync(p.root, { recursive: true, force: true });
});

const config = (over: Record<string, unknown> = {}) => evaluateSchema.parse({ beam: 2, batchSize: 3, lengthPenalty: 1, noRepeatNgram: 0, ...over }); // plain beam search; the defaults' blocking has its own tests
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

    // Both JSON files validate against evaluate's contracts (viz reads them through schemas derived from these).
    const jsonl = readJsonLines(join(p.outDir, 'predictions.jsonl'), predictionLineSchema);
    expect(jsonl).toHaveLength(4);
    for (const line of jsonl) {
      expect(Object.keys(line)).toEqual(expect.arrayContaining(['image', 'references', 'greedy', 'beam']));
      const greedyRow = rows.find((r) => r.image === line.image && r.method === 'greedy')!;
      expect(line.greedy).toBe(greedyRow.prediction);
    }

    const metrics = readJson(join(p.outDir, 'metrics.json'), evaluateReportSchema);
    expect(metrics).toMatchObject({ split: 'test', images: 4, scale: '0-1' });
    expect(metrics.methods.beam.decoding).toMatchObject({ method: 'beam', beam: 2, maxSteps: 6 });
    expect(metrics.methods.greedy.decoding).toMatchObject({ method: 'greedy', maxSteps: 6 });
    for (const method of ['greedy', 'beam'] as const) {
      for (const k of ['BLEU-1', 'BLEU-4', 'CIDEr-D', 'ROUGE-L'] as const) {
        expect(metrics.methods[method].scores[k]).toBeGreaterThanOrEqual(0);
        expect(metrics.x100[method][k]).toBeCloseTo(metrics.methods[method].scores[k] * 100, 2);
      }
    }
    expect(metrics.metricNotes.METEOR).toMatch(/not computed/);
    // Baselines on the same 4 images: the fixture's only training caption is the constant one and the
    // only retrieval candidate; the untrained model's rows fall below them and are flagged.
    expect(metrics.baselines?.rows.constant?.caption).toBe('A black cat sits.');
    expect(metrics.baselines?.rows.nearestNeighbour?.retrieval.poolImages).toBe(1);
    expect(Object.keys(metrics.x100Baselines)).toEqual(['constant', 'constantBleu4', 'nearestNeighbour']);
    expect(metrics.warnings.map((w) => `${w.row} ${w.metric}`)).toContain('greedy CIDEr-D');
    for (const method of ['greedy', 'beam'] as const) {
      const stats = metrics.methods[method].stats;
      expect(stats.capHitShare).toBe(stats.unfinished / 4);
    }
    for (const line of jsonl) expect(line.nearestNeighbourImage).toBe('e.png');
  });

  it('scores a constant "dog dog" model with the hand-worked BLEU, CIDEr-D and ROUGE-L against the raw references', async () => {
    // Every test image gets "dog dog" (the model says "dog" at every step; maxLength 2 cuts it).
    // References after cocoTokenize (lowercased, punctuation dropped, "cat's" -> "cat 's"):
    //   a: "a dog runs on the grass" (6), "the dog is running" (4)
    //   b: "a cat sits" (3), "a cat 's sitting on grass" (6)
    //   c: "dog and cat together" (4)
    //   d: "a yellow dog runs" (4), "a dog" (2), "dogs run on grass" (4)
    // BLEU: "dog" clipped at 1 per image with a "dog" (a, c, d) -> 3 of 8 unigrams; "dog dog" matches
    //   nothing -> BLEU-2..4 ~ 1e-8. Closest reference lengths to 2: 4, 3, 4, 2 -> r = 13, c = 8,
    //   BP = exp(1 - 13/8) = 0.5352614; BLEU-1 = 3/8 * 0.5352614 = 0.2007230.
    // ROUGE-L (beta 1.2, F = 2.44PR/(R + 1.44P)): a: Pmax 1/2, Rmax 1/4 -> 0.305/0.97 = 0.3144330;
    //   b: 0; c: same as a, 0.3144330; d: Pmax 1/2, Rmax 1/2 ("a dog") -> 0.5; mean 0.2822165.
    // CIDEr-D over these 4 images: idf = log 4 - log df; df(dog) = 3 -> u = 0.2876821,
    //   df 2 (runs, cat) -> v = 0.6931472, df 1 -> w = 1.3862944. Candidate unigram vector {dog: 2u},
    //   norm 2u; its bigram "dog dog" is in no reference and it has no 3-/4-grams, so only order 1
    //   counts: min(2u, u)*u / (2u * |ref|) = u / (2|ref|) for a reference with one "dog", times the
    //   length penalty exp(-(1 - refBigrams)^2 / 72).
    //   a: |r1|^2 = 4u^2 + v^2 + w^2 = 2.7333 -> 0.0870044 * exp(-16/72) 0.8007374 = 0.0696677;
    //      |r2|^2 = u^2 + 3w^2 = 5.8482 -> 0.0594801 * exp(-4/72) 0.9459595 = 0.0562658;
    //      (0.0696677 + 0.0562658) / 4 orders / 2 refs * 10 = 0.157416
    //   b: no "dog" -> 0
    //   c: |r|^2 = u^2 + 2w^2 + v^2 = 4.4068 -> 0.0685203 * 0.9459595 / 4 * 10 = 0.162044
    //   d: "a yellow dog runs" |r|^2 = 2u^2 + w^2 + v^2 -> 0.0897647 * 0.9459595 = 0.0849137;
    //      "a dog" |r| = u*sqrt2 -> 1/(2 sqrt2) = 0.3535534, same length, penalty 1; "dogs run on grass": 0
    //      (0.0849137 + 0.3535534) / 4 / 3 * 10 = 0.365389
    //   corpus = (0.157416 + 0 + 0.162044 + 0.365389) / 4 = 0.171212
    // Against text-cleaned references ("a" dropped): lengths a 5/4, b 2/4, c 4, d 3/1/4 -> closest
    //   4, 2, 4, 1 (tie 3 vs 1 -> shorter) -> r = 11, BLEU-1 = 3/8 * exp(1 - 11/8) = 0.2577335.
    const modelDir = join(p.root, 'stages', 'train-constant', 'model');
    await saveConstantWordModel(p, modelDir, 'dog');
    const outDir = join(p.root, 'stages', 'evaluate-constant');
    const report = await runEvaluate({ modelDir, featurizeDir: p.featurizeDir, ingestDir: p.ingestDir, outDir, config: config({ maxLength: 2 }), progressIntervalMs: 60_000 });
    const metrics = JSON.parse(readFileSync(join(outDir, 'metrics.json'), 'utf8'));
    expect(metrics.methods.greedy.scores).toEqual(report.methods.greedy.scores);
    for (const method of ['greedy', 'beam'] as const) {
      const scores = metrics.methods[method].scores;
      expect(scores['BLEU-1']).toBeCloseTo(0.200723, 5);
      expect(scores['BLEU-2']).toBeLessThan(1e-7);
      expect(scores['BLEU-4']).toBeLessThan(1e-7);
      expect(scores['ROUGE-L']).toBeCloseTo(0.2822165, 6);
      expect(scores['CIDEr-D']).toBeCloseTo(0.171212, 5);
      expect(metrics.x100[method]['BLEU-1']).toBe(20.07);
      expect(metrics.x100CleanedReferences[method]['BLEU-1']).toBe(25.77);
      expect(metrics.methods[method].stats.meanWords).toBe(2);
    }
    const rows = readArrowFile(join(outDir, 'predictions.arrow'))
      .toArray()
      .map((r) => r.toJSON());
    const perImage = Object.fromEntries(rows.filter((r) => r.method === 'greedy').map((r) => [r.image, r.cider_d]));
    expect(rows.every((r) => r.prediction === 'dog dog')).toBe(true);
    expect(perImage['a.png']).toBeCloseTo(0.157416, 5);
    expect(perImage['b.png']).toBe(0);
    expect(perImage['c.png']).toBeCloseTo(0.162044, 5);
    expect(perImage['d.png']).toBeCloseTo(0.365389, 5);
  });

  it('cleans references the way text-clean cleans training captions, so a caption the model could say scores 100', () => {
    expect(cleanedReferenceTokens('A dog runs, in a park.')).toEqual(['dog', 'runs', 'in', 'park']);
    // A run trained with the articles kept (textClean.minWordLength 1) is scored against references cleaned the same way.
    expect(cleanedReferenceTokens('A dog runs, in a park.', { minWordLength: 1 })).toEqual(['a', 'dog', 'runs', 'in', 'a', 'park']);
    expect(cleanedReferenceTokens("A man's T-shirt is 2 sizes too big .")).toEqual(['mans', 'tshirt', 'is', 'sizes', 'too', 'big']);
    const references = ['A dog runs in a park .', 'The dog is running on the grass .'];
    const item = (refs: string[][]) => [{ candidate: ['dog', 'runs', 'in', 'park'], references: refs }];
    expect(scoreCaptions(item(references.map((r) => cleanedReferenceTokens(r)))).corpus['BLEU-4']).toBeCloseTo(1, 6);
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
    const rows = readArrowFile(join(p.outDir, 'predictions.arrow'))
      .toArray()
      .map((r) => r.toJSON());
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
