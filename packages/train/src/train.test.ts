import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig, type PipelineConfig } from '@captioner/core';
import { initBackend, tf } from '@captioner/tf';
import { listCheckpoints } from './checkpoint.js';
import { readMetricsJsonl } from './metrics.js';
import { memoryStore, writeReferencesFixture, writeTokensFixture, type TokensFixture } from './test-fixtures.js';
import { parseEventFile } from './test-event-parser.js';
import { defaultModelApi, type ModelApi } from './model-api.js';
import { runTrainWith, TAGS, valImageLimit, type RunTrainOptions, type StepInfo, type TrainDependencies } from './train.js';
import { readJson } from '@captioner/core/node';
import { modelConfigJsonSchema, modelFeaturesSchema, vocabularySchema } from '@captioner/model/contract';
import { trainStateSchema } from './contract.js';

let root: string;
let fixture: TokensFixture;
let api: ModelApi;
const tokenizeDir = () => join(root, 'tokenize');

beforeAll(async () => {
  await initBackend({ backend: 'wasm', threads: 1, quiet: true });
  api = await defaultModelApi({ engine: 'tfjs' });
  root = mkdtempSync(join(tmpdir(), 'train-loop-'));
  fixture = writeTokensFixture(tokenizeDir(), { train: 40, val: 8, test: 4, maxLength: 10, vocabSize: 24 });
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** The tutorial's training settings (the schema's defaults are the val-chosen recipe); tests that need others set them. */
const TUTORIAL_TRAIN = { learningRate: 1e-3, lrSchedule: { kind: 'constant' }, selectBy: 'valLoss', dropout: 0, attentionPenalty: 0 };

function config(train: Record<string, unknown> = {}): PipelineConfig {
  return parseConfig({ model: { embeddingDim: 8, units: 8, attentionUnits: 8 }, train: { ...TUTORIAL_TRAIN, epochs: 3, batchSize: 16, bucketChunk: 2, patience: 0, ...train } });
}

/** The run's options plus the dependencies the tests inject (an in-memory store, a model API). */
type TestRun = RunTrainOptions & TrainDependencies;

function runTrain(run: TestRun) {
  const { store, modelApi, ...opts } = run;
  return runTrainWith(opts, { store, modelApi });
}

/** The model API with the features of one training step (1-based, counted from this run's first step) replaced by NaN. */
function nanFeaturesAtStep(base: ModelApi, step: number): ModelApi {
  let calls = 0;
  return {
    ...base,
    trainStep: async (m, optimizer, features, tokens, opts) => {
      if (++calls !== step) return base.trainStep(m, optimizer, features, tokens, opts);
      const nan = tf.fill(features.shape, Number.NaN) as typeof features;
      try {
        return await base.trainStep(m, optimizer, nan, tokens, opts);
      } finally {
        nan.dispose();
      }
    },
  };
}

function options(name: string, overrides: Partial<TestRun> = {}): TestRun {
  const store = memoryStore(fixture.images, { locations: 4, dim: 6, perShard: 10, failed: ['train-0005.jpg'] });
  return {
    config: config(),
    tokenizeDir: tokenizeDir(),
    featurizeDir: join(root, 'featurize-unused'),
    outDir: join(root, name),
    plainProgress: true,
    store,
    modelApi: api,
    ...overrides,
  };
}

describe('runTrain (tiny CaptionModel, synthetic data)', () => {
  it('selectBy valCIDEr: greedy val captions scored each epoch pick the best epoch; the lr schedule is applied', async () => {
    const ingestDir = join(root, 'ingest');
    writeReferencesFixture(ingestDir, fixture);
    const cfg = config({ epochs: 4, selectBy: 'valCIDEr', lrSchedule: { kind: 'step', factor: 0.5, every: 1, minLearningRate: 0 } });
    const result = await runTrain(options('select-cider', { config: cfg, ingestDir }));
    expect(result.status).toBe('completed');
    expect(result.history.map((m) => m.lr)).toEqual([1e-3, 5e-4, 2.5e-4, 1.25e-4]);
    for (const m of result.history) {
      expect(m.valCider).toBeGreaterThanOrEqual(0);
      expect(m.valBleu4).toBeGreaterThanOrEqual(0);
      expect(m.valMeanWords).toBeGreaterThan(0);
    }
    const ciders = result.history.map((m) => m.valCider!);
    const bestEpoch = ciders.indexOf(Math.max(...ciders)) + 1;
    expect(result.best).toMatchObject({ epoch: bestEpoch, by: 'valCIDEr', score: Math.max(...ciders) });
    const events = parseEventFile(join(root, 'select-cider', 'logs', readdirSync(join(root, 'select-cider', 'logs'))[0]));
    const ciderEvents = events.flatMap((e) => e.values.filter((v) => v.tag === TAGS.valCider).map((v) => ({ step: e.step, value: v.simpleValue })));
    expect(ciderEvents).toEqual(ciders.map((c, i) => ({ step: i + 1, value: Math.fround(c * 100) })));
    // The same run without references cannot select by CIDEr-D: a clear error, not a silent fallback.
    await expect(runTrain(options('select-no-refs', { config: cfg }))).rejects.toThrow(/valCIDEr needs the ingest stage folder/);
  });

  it('same seed → same loss curve; tensor count stays flat across steps', async () => {
    const steps: StepInfo[] = [];
    const a = await runTrain(options('same-a', { onStep: (s) => steps.push(s) }));
    const b = await runTrain(options('same-b'));
    expect(a.status).toBe('completed');
    expect(a.history).toHaveLength(3);
    expect(b.history.map((m) => [m.trainLoss, m.valLoss])).toEqual(a.history.map((m) => [m.trainLoss, m.valLoss]));
    // 39 images × 5 captions = 195 rows → 13 batches of ≤16 per epoch.
    expect(steps).toHaveLength(3 * 13);
    expect(new Set(steps.slice(1).map((s) => s.numTensors)).size).toBe(1);
    // It learns: the curve goes down.
    expect(a.history[2].trainLoss).toBeLessThan(a.history[0].trainLoss);
    const c = await runTrain(options('same-c', { config: config({ seed: 5 }) }));
    expect(c.history[0].trainLoss).not.toBe(a.history[0].trainLoss);
  });

  it('the onnx engine follows the tfjs loss curve (dropout and attention penalty on) and resumes mid-epoch exactly', async () => {
    const onnxApi = await defaultModelApi({ engine: 'onnx' });
    expect(onnxApi.engine).toBe('onnx');
    const recipe = config({ epochs: 2, dropout: 0.3, attentionPenalty: 0.5 });
    const tfjsSteps: StepInfo[] = [];
    const onnxSteps: StepInfo[] = [];
    const tfjs = await runTrain(options('engine-tfjs', { config: recipe, onStep: (s) => tfjsSteps.push(s) }));
    const onnx = await runTrain(options('engine-onnx', { config: recipe, modelApi: onnxApi, onStep: (s) => onnxSteps.push(s) }));
    expect(onnxSteps).toHaveLength(tfjsSteps.length);
    // Same masks, same Adam arithmetic: step by step the losses agree to float32 summation order.
    onnxSteps.forEach((s, i) => {
      expect(s.tokens).toBe(tfjsSteps[i].tokens);
      expect(Math.abs(s.loss - tfjsSteps[i].loss)).toBeLessThan(1e-4 * Math.max(1, tfjsSteps[i].loss));
    });
    onnx.history.forEach((m, i) => expect(m.valLoss!).toBeCloseTo(tfjs.history[i].valLoss!, 4));
    expect(onnx.history[1].trainLoss).toBeLessThan(onnx.history[0].trainLoss);

    // Interrupt mid-epoch 2, resume: the same curve as the uninterrupted onnx run, exactly.
    const controller = new AbortController();
    const first = await runTrain(
      options('engine-onnx-resumed', { config: recipe, modelApi: onnxApi, signal: controller.signal, onStep: (s) => s.epoch === 2 && s.batch === 4 && controller.abort() }),
    );
    expect(first.status).toBe('interrupted');
    const second = await runTrain(options('engine-onnx-resumed', { config: recipe, modelApi: onnxApi, resume: true }));
    expect(second.history.map((m) => [m.trainLoss, m.valLoss])).toEqual(onnx.history.map((m) => [m.trainLoss, m.valLoss]));
    // A tfjs-engine resume of the onnx checkpoint continues within float32 tolerance (same checkpoint format).
    const crossFirst = await runTrain(options('engine-cross', { config: recipe, modelApi: onnxApi, signal: controller.signal, onStep: () => undefined }));
    expect(crossFirst.status).toBe('interrupted');
    const cross = await runTrain(options('engine-cross', { config: recipe, resume: true }));
    cross.history.forEach((m, i) => expect(m.trainLoss).toBeCloseTo(onnx.history[i].trainLoss, 4));
  });

  it('writes metrics.jsonl, TensorBoard scalars, checkpoints and the exported model', async () => {
    const out = join(root, 'outputs');
    const result = await runTrain(options('outputs', { config: config({ keepLast: 2 }) }));
    const metrics = readMetricsJsonl(join(out, 'metrics.jsonl'));
    expect(metrics).toEqual(result.history);
    expect(Object.keys(metrics[0]).sort()).toEqual(['epoch', 'epochSeconds', 'gradNorm', 'lr', 'steps', 'tokens', 'tokensPerSec', 'trainLoss', 'valLoss'].sort());

    const files = readdirSync(join(out, 'logs'));
    expect(files).toHaveLength(1);
    expect(files[0]).toMatch(/^events\.out\.tfevents\.\d+\.[^.]+/);
    const events = parseEventFile(join(out, 'logs', files[0]));
    expect(events[0].fileVersion).toBe('brain.Event:2');
    const byTag = new Map<string, { step: number; value: number }[]>();
    for (const e of events) for (const v of e.values) byTag.set(v.tag, [...(byTag.get(v.tag) ?? []), { step: e.step, value: v.simpleValue! }]);
    const f32 = (x: number) => Math.fround(x);
    expect(byTag.get(TAGS.trainLoss)).toEqual(metrics.map((m) => ({ step: m.epoch, value: f32(m.trainLoss) })));
    expect(byTag.get(TAGS.valLoss)).toEqual(metrics.map((m) => ({ step: m.epoch, value: f32(m.valLoss!) })));
    expect(byTag.get(TAGS.epochTime)).toEqual(metrics.map((m) => ({ step: m.epoch, value: f32(m.epochSeconds) })));
    expect(byTag.get(TAGS.tokensPerSec)).toEqual(metrics.map((m) => ({ step: m.epoch, value: f32(m.tokensPerSec) })));
    expect(byTag.get(TAGS.learningRate)).toEqual(metrics.map((m) => ({ step: m.epoch, value: f32(1e-3) })));
    expect(byTag.get(TAGS.batchLoss)?.map((p) => p.step)).toEqual(Array.from({ length: 39 }, (_, i) => i + 1));

    expect(readdirSync(join(out, 'checkpoints')).sort()).toEqual(['best', 'epoch-0002', 'epoch-0003']);
    const best = readJson(join(out, 'checkpoints', 'best', 'state.json'), trainStateSchema);
    const argmin = metrics.reduce((m, x) => (x.valLoss! < m.valLoss! ? x : m));
    expect(best.epoch).toBe(argmin.epoch);
    // The exported folder's files read back through the model package's contracts.
    const saved = readJson(join(out, 'model', 'config.json'), modelConfigJsonSchema);
    expect(saved.model).toMatchObject({ vocabSize: 24, locations: 4, featureDim: 6 });
    expect(saved.training?.best).toEqual(result.best);
    expect(readJson(join(out, 'model', 'vocab.json'), vocabularySchema).vocabSize).toBe(24);
    expect(readJson(join(out, 'model', 'features.json'), modelFeaturesSchema)).toMatchObject({ dim: 6, locations: 4 });
  });

  it('resume after a mid-epoch stop continues the same loss curve (dropout on: masks follow the global step)', async () => {
    // Dropout masks are seeded by (seed, global step), so the resumed half draws the same masks.
    const withDropout = config({ dropout: 0.3 });
    const reference = await runTrain(options('ref', { config: withDropout }));
    const plain = await runTrain(options('ref-plain'));
    expect(plain.history[0].trainLoss).not.toBe(reference.history[0].trainLoss);
    const controller = new AbortController();
    const first = await runTrain(
      options('resumed', {
        config: withDropout,
        signal: controller.signal,
        onStep: (s) => {
          if (s.epoch === 2 && s.batch === 5) controller.abort();
        },
      }),
    );
    expect(first.status).toBe('interrupted');
    expect(first.modelDir).toBeNull();
    const names = listCheckpoints(join(root, 'resumed', 'checkpoints')).map((c) => c.name);
    expect(names).toEqual(['epoch-0001', 'epoch-0002-batch-000005']);
    const steps: StepInfo[] = [];
    const second = await runTrain(options('resumed', { config: withDropout, resume: true, onStep: (s) => steps.push(s) }));
    expect(second.status).toBe('completed');
    expect(steps[0]).toMatchObject({ epoch: 2, batch: 6, globalStep: 13 + 6 });
    expect(second.history.map((m) => [m.trainLoss, m.valLoss])).toEqual(reference.history.map((m) => [m.trainLoss, m.valLoss]));
    expect(readMetricsJsonl(join(root, 'resumed', 'metrics.jsonl')).map((m) => m.trainLoss)).toEqual(reference.history.map((m) => m.trainLoss));
    // Resuming a finished run only re-exports.
    const again = await runTrain(options('resumed', { config: withDropout, resume: true }));
    expect(again.status).toBe('already-complete');
  });

  it('a NaN loss or gradient stops with a clear error and keeps the last good checkpoint', async () => {
    const out = join(root, 'nan');
    // NaN features at step 20 (epoch 2, batch 7 of 13): relu hides them in the forward pass on
    // wasm, the gradient norm is NaN.
    await expect(runTrain(options('nan', { modelApi: nanFeaturesAtStep(api, 20) }))).rejects.toThrow(
      /training diverged: loss \S+, gradient norm NaN at epoch 2, batch 7\/13 \(global step 20\)\. This state was not saved; the last good checkpoint is \S*epoch-0001\b/,
    );
    expect(listCheckpoints(join(out, 'checkpoints')).map((c) => c.name)).toEqual(['epoch-0001']);
    expect(existsSync(join(out, 'model'))).toBe(false);
    // The kept checkpoint is usable.
    const resumed = await runTrain(options('nan', { resume: true, config: config({ epochs: 2 }) }));
    expect(resumed.status).toBe('completed');
    expect(Number.isFinite(resumed.history[1].trainLoss)).toBe(true);

    // An exploding learning rate: Adam moves every weight by ~lr, the next forward pass overflows.
    await expect(runTrain(options('nan-lr', { config: config({ learningRate: 1e30, clipNorm: 0 }) }))).rejects.toThrow(
      /training diverged: loss (NaN|-?Infinity), .* at epoch 1, batch 2\/13 \(global step 2\)\. This state was not saved; the last good checkpoint is \(none yet\)/,
    );
    expect(listCheckpoints(join(root, 'nan-lr', 'checkpoints'))).toEqual([]);
  });

  it('early stopping and rotation keep the last N plus the best checkpoint', async () => {
    // Scripted validation losses: best at epoch 2, then two epochs without improvement.
    const script = [3, 2, 2.5, 2.75, 1];
    let valCalls = 0;
    const base = options('early', { config: config({ epochs: 5, patience: 2, keepLast: 1 }) });
    let epochOfVal = 0;
    const result = await runTrain({
      ...base,
      onStep: (s) => (epochOfVal = s.epoch),
      modelApi: { ...api, loss: (m, f, t) => (valCalls++, tf.tidy(() => tf.add(tf.mul(api.loss(m, f, t), 0), script[epochOfVal - 1]))) },
    });
    expect(valCalls).toBeGreaterThan(0);
    expect(result.status).toBe('early-stopped');
    expect(result.history.map((m) => m.valLoss)).toEqual([3, 2, 2.5, 2.75]);
    expect(result.best).toEqual({ epoch: 2, valLoss: 2, by: 'valLoss', score: -2 });
    expect(readdirSync(join(root, 'early', 'checkpoints')).sort()).toEqual(['best', 'epoch-0004']);
    expect(readJson(join(root, 'early', 'checkpoints', 'best', 'state.json'), trainStateSchema).epoch).toBe(2);
    expect(readJson(join(root, 'early', 'model', 'config.json'), modelConfigJsonSchema).training?.best).toEqual({ epoch: 2, valLoss: 2, by: 'valLoss', score: -2 });
  });
});

describe('runTrain with features larger than the memory budget', () => {
  it('streams windows, loads each train image once per epoch, and resumes mid-window identically', async () => {
    const dir = join(root, 'windows');
    const tokens = join(dir, 'tokenize');
    const big = writeTokensFixture(tokens, { train: 150, val: 6, captionsPerImage: 1, maxLength: 8, vocabSize: 24, seed: 3 });
    // 0.5 MiB per image; a 64 MiB budget leaves 56 MiB (112 images) for resident features.
    const shape = { locations: 64, dim: 2048, perShard: 32 };
    const run = (name: string, extra: Partial<RunTrainOptions> = {}) => {
      const store = memoryStore(big.images, shape);
      const opts: TestRun = {
        config: config({ epochs: 1, memoryBudgetMB: 64, batchSize: 32 }),
        tokenizeDir: tokens,
        featurizeDir: join(dir, 'unused'),
        outDir: join(dir, name),
        plainProgress: true,
        store,
        modelApi: api,
        ...extra,
      };
      return { store, result: runTrain(opts) };
    };
    const reference = run('reference');
    const full = await reference.result;
    const trainLoads = reference.store.gets.filter((i) => i.startsWith('train-'));
    expect(trainLoads).toHaveLength(150);
    expect(new Set(trainLoads).size).toBe(150);
    // 150 captions in batches of 32, cut per window (112 + 38 images): 4 + 2 batches.
    expect(full.history[0].steps).toBe(6);

    const controller = new AbortController();
    const first = run('resumed', { signal: controller.signal, onStep: (s) => s.batch === 5 && controller.abort() });
    expect((await first.result).status).toBe('interrupted');
    const resumed = run('resumed', { resume: true });
    const second = await resumed.result;
    // Only the second window (the one holding batch 6) is loaded again.
    expect(resumed.store.gets.filter((i) => i.startsWith('train-'))).toHaveLength(38);
    expect(second.history.map((m) => [m.trainLoss, m.valLoss])).toEqual(full.history.map((m) => [m.trainLoss, m.valLoss]));
  });
});

describe('valImageLimit', () => {
  it('keeps all of val by default, follows maxImages proportionally, and obeys maxValImages', () => {
    const train = (t: Record<string, unknown>) => config(t).train;
    expect(valImageLimit(train({}), 6000, 1000)).toBeNull();
    expect(valImageLimit(train({ maxImages: 300 }), 6000, 1000)).toBe(50);
    expect(valImageLimit(train({ maxImages: 9000 }), 6000, 1000)).toBe(1000);
    expect(valImageLimit(train({ maxImages: 300, maxValImages: 7 }), 6000, 1000)).toBe(7);
  });
});
