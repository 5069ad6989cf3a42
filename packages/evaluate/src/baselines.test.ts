import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { evaluateSchema, featurizeSchema } from '@captioner/core';
import { writeArrowFile, writeJsonAtomic } from '@captioner/core/node';
import { openFeatureStore, runFeaturize, type FeatureStore } from '@captioner/featurize';
import { captionsTable, type Split } from '@captioner/ingest';
import sharp from 'sharp';
import { ciderDScorer, cocoTokenize } from '@captioner/metrics';
import { initBackend } from '@captioner/tf';
import { baselineWarnings, chooseConstantCaption, consensusCaptionIndex, constantCandidates, nearestNeighbours, pooledFeatures } from './baselines.js';
import { runEvaluate } from './evaluate.js';
import { createTinyPipeline, quadrantExtractor, saveConstantWordModel, type TinyPipeline } from './pipeline.fixture.js';

const tok = (captions: string[]) => captions.map(cocoTokenize);

/** Per image: its split and captions, as the evaluate tests' ingest tables list them. */
type IngestImages = Record<string, { split: Split; captions: string[] }>;

describe('constant-caption candidates and choice', () => {
  const train = new Map([
    ['1.jpg', ['A dog runs on the grass .', 'A cat sits on a mat .']],
    ['2.jpg', ['a dog runs on the grass', 'A black cat sits on a mat .']],
    ['3.jpg', ['A DOG runs on the grass!', 'Zebras graze .']],
    // A fourth image, so that no n-gram is in every image (idf log(4/3) > 0 for the dog caption's).
    ['4.jpg', ['A brown dog .', 'A cat sits on the mat .']],
  ]);

  it('nominates the most frequent tokenized captions, keeping the first raw form', () => {
    const c = constantCandidates(train, { frequent: 1, central: 0 });
    expect(c).toHaveLength(1);
    // Three raw spellings of one tokenized caption: counted together, reported as first seen.
    expect(c[0]).toMatchObject({ caption: 'A dog runs on the grass .', tokens: ['a', 'dog', 'runs', 'on', 'the', 'grass'], count: 3, source: 'frequent' });
  });

  it('ranks centrality by shared n-grams: the outlier caption comes last', () => {
    const c = constantCandidates(train, { frequent: 0, central: 10 });
    expect(c).toHaveLength(6);
    expect(new Set(c.map((x) => x.source))).toEqual(new Set(['central']));
    // Centrality = mean over orders of v . centroid / (|v| M), M = 8 captions. "zebras graze" shares no
    // n-gram with any other caption: only its own unit vector counts, orders 1 and 2 -> (1/8 + 1/8)/4
    // = 0.0625. The dog caption (3 copies) has at least 3/8 per order from its own copies.
    expect(c[5].caption).toBe('Zebras graze .');
    expect(c[5].centrality).toBeCloseTo(0.0625, 10);
    expect(c[0].caption).toBe('A dog runs on the grass .');
    expect(c[0].centrality).toBeGreaterThanOrEqual(3 / 8 - 1e-12);
    for (let i = 1; i < c.length; i++) expect(c[i - 1].centrality).toBeGreaterThanOrEqual(c[i].centrality);
    const both = constantCandidates(train, { frequent: 1, central: 1 });
    expect(both).toHaveLength(1);
    expect(both[0].source).toBe('both');
  });

  it('chooses by CIDEr-D on the references it is given, and only those', () => {
    const candidates = constantCandidates(train, { frequent: 10, central: 0 });
    const catRefs = [tok(['A cat sits on a mat .', 'A cat is sitting .']), tok(['A black cat sits on the mat .', 'Cat on a mat .']), tok(['Zebras run .'])];
    const dogRefs = [tok(['A dog runs on the grass .']), tok(['The dog runs on the grass .', 'A dog .']), tok(['Zebras run .'])];
    const onCats = chooseConstantCaption(candidates, catRefs);
    const onDogs = chooseConstantCaption(candidates, dogRefs);
    expect(onCats.candidate.caption).toMatch(/cat sits on a mat/);
    expect(onDogs.candidate.caption).toBe('A dog runs on the grass .');
    expect(onCats.candidates).toBe(6);
    expect(onCats.selectionScore).toBeGreaterThan(0);
    expect(onCats.metric).toBe('CIDEr-D');
    // By BLEU-4 on the dog references: the dog caption is a.png's reference verbatim and in b.png's.
    const byBleu = chooseConstantCaption(candidates, dogRefs, 'BLEU-4');
    expect(byBleu).toMatchObject({ metric: 'BLEU-4', candidate: { caption: 'A dog runs on the grass .' } });
    expect(() => chooseConstantCaption([], catRefs)).toThrow(/no candidates/);
  });
});

/** An in-memory FeatureStore over hand-made grids (locations x dim), recording getBatch calls. */
function fakeStore(grids: Record<string, number[][]>): FeatureStore & { calls: string[][] } {
  const images = Object.keys(grids);
  const locations = grids[images[0]].length;
  const dim = grids[images[0]][0].length;
  const calls: string[][] = [];
  return {
    dir: '(memory)',
    manifest: { locations, dim } as FeatureStore['manifest'],
    images,
    failed: [],
    rowLength: locations * dim,
    calls,
    has: (image) => image in grids,
    get: (image) => Float32Array.from(grids[image].flat()),
    getBatch(batch, out = new Float32Array(batch.length * locations * dim)) {
      calls.push([...batch]);
      batch.forEach((image, i) => out.set(grids[image].flat(), i * locations * dim));
      return out;
    },
    close() {},
  };
}

describe('nearest-neighbour retrieval', () => {
  beforeAll(() => initBackend({ backend: 'cpu', quiet: true }));

  // Two locations x two dims. q pools to (0.5, 0.5): B (also (0.5, 0.5) on average) is its neighbour
  // by cosine 1, although A's first location equals q's first location exactly and C is closer in
  // Euclidean distance than the 10x scaled D, which has the same direction as B.
  const grids = {
    'q.jpg': [
      [1, 0],
      [0, 1],
    ],
    'A.jpg': [
      [1, 0],
      [1, 0],
    ],
    'B.jpg': [
      [0.6, 0.4],
      [0.4, 0.6],
    ],
    'C.jpg': [
      [0.9, 0.2],
      [0.8, 0.1],
    ],
    'r.jpg': [
      [0, 2],
      [0, 2],
    ],
  };

  it('mean-pools over locations and L2-normalises, reading batch by batch', () => {
    const store = fakeStore(grids);
    const pooled = pooledFeatures(store, ['q.jpg', 'A.jpg', 'r.jpg'], 2);
    // q: mean (0.5, 0.5) -> (0.7071068, 0.7071068); A: (1, 0); r: (0, 2) -> (0, 1)
    expect([...pooled].map((x) => Number(x.toFixed(6)))).toEqual([0.707107, 0.707107, 1, 0, 0, 1]);
    expect(store.calls.every((c) => c.length <= 2)).toBe(true);
    expect(store.calls.flat().sort()).toEqual(['A.jpg', 'q.jpg', 'r.jpg']);
  });

  it('picks the training image with the highest cosine of pooled features, never the image itself', () => {
    const store = fakeStore(grids);
    const pool = ['A.jpg', 'B.jpg', 'C.jpg', 'r.jpg'];
    const poolVectors = pooledFeatures(store, pool);
    const q = pooledFeatures(store, ['q.jpg', 'r.jpg', 'A.jpg']);
    // q -> B (cos 1); r (0, 1) -> cosines A 0, B 0.7071, C 0.3162, r itself excluded -> B;
    // A (1, 0) excluded from its own row -> C: (0.85, 0.15)/|.| -> cos 0.9848 > B's 0.7071.
    const found = nearestNeighbours(q, poolVectors, 2, [-1, 3, 0]);
    expect(found.map((n) => pool[n.index])).toEqual(['B.jpg', 'B.jpg', 'C.jpg']);
    expect(found[0].cosine).toBeCloseTo(1, 6);
    expect(found[1].cosine).toBeCloseTo(Math.SQRT1_2, 6);
    expect(found[2].cosine).toBeCloseTo(0.85 / Math.hypot(0.85, 0.15), 5);
    // Without the exclusion r finds itself.
    expect(pool[nearestNeighbours(q.subarray(2, 4), poolVectors, 2)[0].index]).toBe('r.jpg');
  });

  it("returns the consensus caption: the one closest (CIDEr-D) to the image's other captions", () => {
    const captions = tok(['A dog runs on grass .', 'A dog runs .', 'A cat on a mat .', 'A dog runs on the grass .']);
    const scorer = ciderDScorer([captions, tok(['A cat sits .', 'A cat on a mat .']), tok(['Two people walk .'])]);
    // Caption 0's n-grams all recur in the others except "on grass"; caption 3 adds "the", "on the",
    // "the grass" found nowhere else; the cat caption shares only "a" and "on" (df 2 of 3).
    expect(consensusCaptionIndex(captions, scorer)).toBe(0);
    expect(consensusCaptionIndex(tok(['A dog .']), scorer)).toBe(0);
  });
});

describe('baselineWarnings', () => {
  const s = (cider: number, bleu4: number) => ({ 'BLEU-1': 0, 'BLEU-2': 0, 'BLEU-3': 0, 'BLEU-4': bleu4, 'CIDEr-D': cider, 'ROUGE-L': 0 });
  const baselines = { constant: s(9, 7.3), nearestNeighbour: s(18, 5) };

  it('flags a row below best-baseline CIDEr-D + margin or below the best BLEU-4, naming both numbers', () => {
    const w = baselineWarnings({ greedy: s(20, 8), beam: s(30, 7.2) }, baselines, 5);
    expect(w).toEqual([
      expect.objectContaining({ row: 'greedy', metric: 'CIDEr-D', value: 20, baseline: 'nearestNeighbour', baselineValue: 18, required: 23 }),
      expect.objectContaining({ row: 'beam', metric: 'BLEU-4', value: 7.2, baseline: 'constant', baselineValue: 7.3, required: 7.3 }),
    ]);
    expect(w[0].message).toMatch(/greedy: CIDEr-D 20 .* nearestNeighbour baseline's 18 \(needs >= 23/);
  });

  it('is silent for rows that clearly beat both, and without baselines', () => {
    expect(baselineWarnings({ greedy: s(23, 7.3), beam: s(50, 20) }, baselines, 5)).toEqual([]);
    expect(baselineWarnings({ greedy: s(0, 0) }, {}, 5)).toEqual([]);
  });
});

describe('baselines in the evaluate stage', () => {
  let p: TinyPipeline;
  beforeAll(async () => {
    p = await createTinyPipeline();
  });
  afterAll(() => {
    if (p) rmSync(p.root, { recursive: true, force: true });
  });

  /** An ingest captions.arrow over the fixture's featurized images with other splits and captions. */
  function writeIngest(name: string, splits: IngestImages): string {
    const rows = Object.entries(splits).flatMap(([image, { split, captions }]) => captions.map((caption, captionIndex) => ({ image, caption, captionIndex, split })));
    const dir = join(p.root, 'stages', name);
    writeArrowFile(join(dir, 'captions.arrow'), captionsTable(rows));
    return dir;
  }
  const trainVal: IngestImages = {
    'c.png': { split: 'train', captions: ['A dog runs on the grass .', 'A cat sits on a mat .'] },
    'e.png': { split: 'train', captions: ['A dog runs on the grass .', 'A black cat sits on a mat .'] },
    'f.png': { split: 'val', captions: ['A cat sits on a mat .', 'A cat is sitting .'] },
    'd.png': { split: 'val', captions: ['A black cat sits on the mat .', 'Cat on a mat .'] },
  };
  const evaluate = (ingestDir: string, outName: string, over: Record<string, unknown> = {}, modelDir = p.modelDir) =>
    runEvaluate({
      modelDir,
      featurizeDir: p.featurizeDir,
      ingestDir,
      outDir: join(p.root, 'stages', outName),
      config: evaluateSchema.parse({ beam: 2, batchSize: 3, lengthPenalty: 1, noRepeatNgram: 0, ...over }),
      progressIntervalMs: 60_000,
    });

  it("chooses the constant caption on val: changing the evaluated split's references does not change it", async () => {
    const dogTest: IngestImages = {
      'a.png': { split: 'test', captions: ['A dog runs on the grass .'] },
      'b.png': { split: 'test', captions: ['The dog runs on the grass .', 'A dog .'] },
    };
    const catTest: IngestImages = { 'a.png': { split: 'test', captions: ['A cat sits on a mat .'] }, 'b.png': { split: 'test', captions: ['Zebras .'] } };
    const r1 = await evaluate(writeIngest('ingest-dogs', { ...trainVal, ...dogTest }), 'eval-dogs');
    const r2 = await evaluate(writeIngest('ingest-cats', { ...trainVal, ...catTest }), 'eval-cats');
    const c1 = r1.baselines!.rows.constant!;
    expect(c1.caption).toBe('A cat sits on a mat .');
    expect(c1.selection).toMatchObject({ split: 'val', metric: 'CIDEr-D', candidates: 3, frequent: 200, central: 300, trainCount: 1 });
    expect(r2.baselines!.rows.constant!.caption).toBe(c1.caption);
    expect(r2.baselines!.rows.constant!.selection.score).toBe(c1.selection.score);
    expect(r2.baselines!.rows.constantBleu4!.caption).toBe(r1.baselines!.rows.constantBleu4!.caption);
    // Chosen on the test references it would have been the dog caption, which those references favour.
    const candidates = constantCandidates(
      new Map(
        Object.entries(trainVal)
          .filter(([, v]) => v.split === 'train')
          .map(([k, v]) => [k, v.captions]),
      ),
      { frequent: 200, central: 300 },
    );
    expect(
      chooseConstantCaption(
        candidates,
        Object.values(dogTest).map((v) => tok(v.captions)),
      ).candidate.caption,
    ).toBe('A dog runs on the grass .');
    // The row is scored on the evaluated split like a model row: "a cat sits on a mat" vs a.png's
    // identical reference (6 of 6 words match) and b.png's "zebras" (0 of 6) -> 6/12; closest
    // reference lengths 6 + 1 = 7 < 12 candidate words, so no brevity penalty: BLEU-1 = 0.5.
    expect(r2.baselines!.rows.constant!.scores['BLEU-1']).toBeCloseTo(0.5, 6);
    expect(r2.x100Baselines.constant['BLEU-1']).toBe(50);
    // Evaluating val itself: the choice moves to train, never the evaluated split.
    const onVal = await evaluate(writeIngest('ingest-valeval', { ...trainVal, ...dogTest }), 'eval-val', { split: 'val' });
    expect(onVal.baselines!.rows.constant!.selection.split).toBe('train');
  });

  it('retrieves the training image with the highest cosine of pooled features and scores its consensus caption', async () => {
    // The fixture's images are two complementary halves, so their pooled features are all parallel;
    // this test featurizes single-colour images instead (same feature network, so the model fits).
    const root = join(p.root, 'nn');
    const imagesDir = join(root, 'images');
    mkdirSync(imagesDir, { recursive: true });
    const colours: Record<string, [number, number, number]> = {
      'red.png': [200, 30, 30],
      'blue.png': [30, 30, 200],
      'darkred.png': [100, 12, 12],
      'navy.png': [15, 20, 110],
      'yellow.png': [200, 200, 30],
    };
    for (const [name, [r, g, b]] of Object.entries(colours)) {
      await sharp({ create: { width: 16, height: 16, channels: 3, background: { r, g, b } } })
        .png()
        .toFile(join(imagesDir, name));
    }
    const splits: IngestImages = {
      'red.png': { split: 'test', captions: ['A red wall .'] },
      'blue.png': { split: 'test', captions: ['A blue sky .'] },
      'darkred.png': { split: 'train', captions: ['A dark red wall .', 'Red bricks .', 'A red wall in the sun .'] },
      'navy.png': { split: 'train', captions: ['The sky at night .', 'A dark blue sky .'] },
      'yellow.png': { split: 'train', captions: ['A yellow flower .'] },
      'f.png': { split: 'val', captions: ['A cat .'] },
    };
    const ingestDir = writeIngest('ingest-nn', splits);
    writeJsonAtomic(join(ingestDir, 'manifest.json'), { imagesDir, layout: 'kaggle', splitSource: 'test' });
    const featurizeDir = join(root, 'featurize');
    await runFeaturize({
      ingestDir,
      outDir: featurizeDir,
      root,
      config: featurizeSchema.parse({ dtype: 'float32', batchSize: 4 }),
      extractor: quadrantExtractor(),
      log: () => {},
      progressIntervalMs: 60_000,
    });
    const outDir = join(root, 'evaluate');
    const report = await runEvaluate({
      modelDir: p.modelDir,
      featurizeDir,
      ingestDir,
      outDir,
      config: evaluateSchema.parse({ beam: 2, lengthPenalty: 1, noRepeatNgram: 0 }),
      progressIntervalMs: 60_000,
    });
    const nn = report.baselines!.rows.nearestNeighbour!;
    expect(nn.retrieval).toMatchObject({ pool: 'train', poolImages: 3, pooling: 'mean over locations', similarity: 'cosine', captionChoice: 'consensus' });
    const lines = readFileSync(join(outDir, 'predictions.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const byImage = Object.fromEntries(lines.map((l) => [l.image, l]));
    // Features per location: mean R, G, B and R - B. red (200, 30, 30, 170) is parallel to dark red
    // (100, 12, 12, 88) up to the small G/B terms; yellow (200, 200, 30, 170) has a large G. blue
    // (30, 30, 200, -170) is closest to navy (15, 20, 110, -95) and opposite to the reds.
    expect(byImage['red.png'].nearestNeighbourImage).toBe('darkred.png');
    expect(byImage['blue.png'].nearestNeighbourImage).toBe('navy.png');
    // Independent check with plain loops over the stored grids.
    const store = openFeatureStore(featurizeDir);
    const pooled = (image: string) => {
      const g = store.get(image);
      const v = [0, 0, 0, 0];
      for (let i = 0; i < g.length; i++) v[i % 4] += g[i];
      return v;
    };
    const cos = (x: number[], y: number[]) => x.reduce((s, xi, i) => s + xi * y[i], 0) / Math.hypot(...x) / Math.hypot(...y);
    for (const line of lines) {
      const q = pooled(line.image);
      const ranked = ['darkred.png', 'navy.png', 'yellow.png'].sort((x, y) => cos(q, pooled(y)) - cos(q, pooled(x)));
      expect(line.nearestNeighbourImage).toBe(ranked[0]);
      expect(line.nearestNeighbourCosine).toBeCloseTo(cos(q, pooled(ranked[0])), 3);
    }
    store.close();
    // Consensus (idf over the 3 training images; "a" is in all three, weight 0): darkred's "a dark red
    // wall" and "a red wall in the sun" share "red", "wall", "red wall"; "red bricks" shares "red".
    // The longer "… in the sun" has a larger norm (its extra n-grams match nothing) and a larger
    // bigram-count gap to its siblings (5 vs 3 and 1: penalties exp(-4/72), exp(-16/72), against
    // exp(-4/72) twice for "a dark red wall"), so "a dark red wall" wins. navy's two captions share
    // only "sky" and score equally: the tie goes to the first.
    expect(byImage['red.png'].nearestNeighbour).toBe('A dark red wall .');
    expect(byImage['blue.png'].nearestNeighbour).toBe('The sky at night .');
    // Scored on the evaluated split's raw references like a model row: "a dark red wall" vs "a red
    // wall" (3 of 4 words match) and "the sky at night" vs "a blue sky" (1 of 4): BLEU-1 = 4/8, no
    // brevity penalty (references 3 + 3 words < 8).
    expect(nn.scores['BLEU-1']).toBeCloseTo(0.5, 6);
    expect(nn.stats.meanWords).toBe(4);
  });

  it('writes warnings for a model row below a baseline, none for one that clearly beats both, and the schema fields', async () => {
    const test: IngestImages = { 'a.png': { split: 'test', captions: ['A dog runs .'] }, 'b.png': { split: 'test', captions: ['A cat sits .'] } };
    const modelDir = join(p.root, 'stages', 'train-dog', 'model');
    await saveConstantWordModel(p, modelDir, 'dog');
    // "dog dog" vs a.png "a dog runs": idf(dog) = log 2, cos 1/(2 sqrt2), penalty exp(-1/72) -> 8.717 (x100
    // per image), b.png 0 -> CIDEr-D 4.36 x100, BLEU-4 ~0. Baselines that say "a purple elephant" score 0.
    const elephants: IngestImages = {
      'c.png': { split: 'train', captions: ['A purple elephant .'] },
      'e.png': { split: 'train', captions: ['A purple elephant .'] },
      'f.png': { split: 'val', captions: ['A cat .'] },
      'd.png': { split: 'val', captions: ['A dog .'] },
    };
    const clear = await evaluate(writeIngest('ingest-elephants', { ...elephants, ...test }), 'eval-clear', { maxLength: 2, baselineMarginCiderD: 5 }, modelDir);
    expect(clear.x100.greedy['CIDEr-D']).toBeCloseTo(43.58, 1);
    expect(clear.x100Baselines.constant['CIDEr-D']).toBe(0);
    expect(clear.x100Baselines.nearestNeighbour['CIDEr-D']).toBe(0);
    expect(clear.warnings).toEqual([]);
    // A margin above the model's lead flags both rows on CIDEr-D, against the first best baseline.
    const flagged = await evaluate(writeIngest('ingest-elephants', { ...elephants, ...test }), 'eval-flagged', { maxLength: 2, baselineMarginCiderD: 50 }, modelDir);
    expect(flagged.warnings.map((w) => [w.row, w.metric, w.baseline, w.required])).toEqual([
      ['greedy', 'CIDEr-D', 'constant', 50],
      ['beam', 'CIDEr-D', 'constant', 50],
    ]);

    const metrics = JSON.parse(readFileSync(join(p.root, 'stages', 'eval-flagged', 'metrics.json'), 'utf8'));
    expect(metrics.warnings[0]).toMatchObject({ row: 'greedy', metric: 'CIDEr-D', value: clear.x100.greedy['CIDEr-D'], baselineValue: 0, required: 50 });
    expect(metrics.warnings[0].message).toMatch(/greedy: CIDEr-D .* does not clearly beat the constant baseline's 0/);
    expect(Object.keys(metrics.x100Baselines)).toEqual(['constant', 'constantBleu4', 'nearestNeighbour']);
    expect(metrics.baselines.rows.constant).toMatchObject({ caption: 'A purple elephant .', selection: { split: 'val', metric: 'CIDEr-D', candidates: 1, trainCount: 2 } });
    expect(metrics.baselines.rows.constantBleu4).toMatchObject({ caption: 'A purple elephant .', selection: { split: 'val', metric: 'BLEU-4' } });
    for (const name of ['constant', 'constantBleu4', 'nearestNeighbour']) {
      const row = metrics.baselines.rows[name];
      expect(Object.keys(row.scores)).toEqual(['BLEU-1', 'BLEU-2', 'BLEU-3', 'BLEU-4', 'CIDEr-D', 'ROUGE-L']);
      expect(Object.keys(row.stats)).toEqual(['bleuLengths', 'meanWords', 'distinctRatio']);
      expect(row.x100CleanedReferences['BLEU-1']).toBeGreaterThanOrEqual(0);
      expect(row.seconds).toBeGreaterThanOrEqual(0);
    }
    expect(metrics.baselines.skipped).toEqual([]);
    // Every decoding row: the length cap (2 steps, never <eos>) cut all 2 captions.
    expect(metrics.methods.greedy.stats).toMatchObject({ unfinished: 2, capHitShare: 1, meanWords: 2 });
    expect(metrics.methods.beam.decoding).toMatchObject({ beam: 2, lengthPenalty: 1, noRepeatNgram: 0, maxSteps: 2 });
    expect(metrics.metricNotes.warnings).toMatch(/baselineMarginCiderD/);
  });

  it('skips a baseline it cannot compute with a reason, and all of them when switched off', async () => {
    const noVal = writeIngest('ingest-noval', {
      'c.png': { split: 'train', captions: ['A dog .'] },
      'a.png': { split: 'test', captions: ['A dog runs .'] },
      'b.png': { split: 'test', captions: ['A cat sits .'] },
    });
    const report = await evaluate(noVal, 'eval-noval');
    const reason = expect.stringMatching(/no val split to choose it on: .*no images in split "val"/);
    expect(report.baselines!.skipped).toEqual([
      { name: 'constant', reason },
      { name: 'constantBleu4', reason },
    ]);
    expect(Object.keys(report.x100Baselines)).toEqual(['nearestNeighbour']);
    const off = await evaluate(noVal, 'eval-off', { baselines: false });
    expect(off.baselines).toBeNull();
    expect(off.x100Baselines).toEqual({});
    expect(off.warnings).toEqual([]);
  });
});
