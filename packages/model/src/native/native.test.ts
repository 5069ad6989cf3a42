import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tf, initBackend } from '@captioner/tf';
import { seededRandom } from '@captioner/core';
import { beamSearch, CaptionModel, dropoutMask, greedyDecode, tfjsStepEngine, trainStep, type CaptionModelConfig } from '../index.js';
import { nativeStepEngine } from './decode-engine.js';
import { NativeTrainer } from './trainer.js';

const config: CaptionModelConfig = { vocabSize: 23, locations: 5, featureDim: 7, embeddingDim: 6, units: 8, attentionUnits: 4 };
// <sos>=1, <eos>=2; uneven lengths, trailing <pad>, and an all-pad column at the end.
const captions = [
  [1, 4, 5, 2, 0, 0, 0, 0],
  [1, 3, 3, 7, 9, 11, 2, 0],
  [1, 8, 2, 0, 0, 0, 0, 0],
  [1, 12, 13, 14, 2, 0, 0, 0],
];
const [B, T] = [captions.length, captions[0].length];

function batch(seed = 1) {
  const features = tf.randomNormal([B, config.locations, config.featureDim], 0, 1, 'float32', seed) as tf.Tensor3D;
  return { features, tokens: tf.tensor2d(captions, undefined, 'int32') };
}

function relError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let diff = 0;
  let scale = 1e-3;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return diff / scale;
}

const root = mkdtempSync(join(tmpdir(), 'captioner-native-'));
beforeAll(async () => {
  await initBackend({ backend: 'wasm', threads: 1, quiet: true });
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('native (onnxruntime) training step', () => {
  it('loss and every gradient equal the TF.js forwardBackward (dropout and attention penalty on)', async () => {
    const model = CaptionModel.create(config, 3);
    const native = await NativeTrainer.create(model, { threads: 1 });
    const { features, tokens } = batch();
    const cases = [{}, { attentionPenalty: 0.6, dropoutMask: dropoutMask(0.35, 5, B, T - 1, config.units) }];
    for (const opts of cases) {
      const tfjs = model.lossAndGradients(features, tokens, opts);
      const ours = native.lossAndGradients(features.dataSync() as Float32Array, tokens.dataSync() as Int32Array, { batch: B, length: T }, { ...opts, withGradients: true });
      expect(ours.tokens).toBe(tfjs.tokens);
      expect(ours.loss).toBeCloseTo(tfjs.loss.dataSync()[0], 5);
      model.parameterNames.forEach((name, i) => expect(relError(ours.grads![i], tfjs.grads[i].dataSync()), name).toBeLessThan(2e-5));
      // Without gradients (validation): the same loss.
      const lossOnly = native.lossAndGradients(features.dataSync() as Float32Array, tokens.dataSync() as Int32Array, { batch: B, length: T }, { ...opts, withGradients: false });
      expect(lossOnly.loss).toBeCloseTo(tfjs.loss.dataSync()[0], 5);
    }
    expect(() =>
      native.lossAndGradients(
        features.dataSync() as Float32Array,
        tokens.dataSync() as Int32Array,
        { batch: B, length: T },
        { dropoutMask: new Float32Array(3), withGradients: true },
      ),
    ).toThrow(/dropoutMask/);
    native.dispose();
    model.dispose();
  });

  it('clipping + Adam in JS follow tf.train.adam: three steps give the same weights, loss, norm and optimizer state', async () => {
    const a = CaptionModel.create(config, 8);
    const b = CaptionModel.create(config, 8);
    const optA = tf.train.adam(0.01);
    const optB = tf.train.adam(0.01);
    const native = await NativeTrainer.create(b, { threads: 1 });
    const { features, tokens } = batch(4);
    for (let step = 0; step < 3; step++) {
      const opts = { clipNorm: 0.5, attentionPenalty: 0.3, dropout: 0.2, dropoutSeed: 40 + step };
      const ra = trainStep(a, optA, features, tokens, opts);
      const rb = native.trainStep(optB, features, tokens, opts);
      expect(rb.tokens).toBe(ra.tokens);
      expect(rb.loss).toBeCloseTo(ra.loss, 5);
      expect(rb.gradNorm).toBeCloseTo(ra.gradNorm, 4);
      expect(ra.gradNorm).toBeGreaterThan(0.5); // clipping was active
    }
    await native.syncOptimizer(optB);
    a.variables.forEach((v, i) => expect(relError(b.variables[i].dataSync(), v.dataSync()), a.parameterNames[i]).toBeLessThan(1e-5));
    const [wa, wb] = [await optA.getWeights(), await optB.getWeights()];
    expect(wb.map((w) => w.tensor.shape)).toEqual(wa.map((w) => w.tensor.shape));
    expect(wb[0].tensor.dataSync()[0]).toBe(3);
    wa.slice(1).forEach((w, i) => expect(relError(wb[i + 1].tensor.dataSync(), w.tensor.dataSync())).toBeLessThan(1e-4));
    const beta = (o: tf.Optimizer) => (o as unknown as { accBeta1: tf.Variable }).accBeta1.dataSync()[0];
    expect(beta(optB)).toBe(beta(optA));
    native.dispose();
    [a, b].forEach((m) => m.dispose());
  });

  it('re-reads weights changed outside it, and refuses to lose unsynced native updates', async () => {
    const model = CaptionModel.create(config, 2);
    const native = await NativeTrainer.create(model, { threads: 1 });
    const { features, tokens } = batch(2);
    const before = native.loss(features, tokens);
    const fc2 = model.variables[model.parameterNames.indexOf('fc2/bias')];
    fc2.assign(tf.randomNormal(fc2.shape as [number], 0, 1, 'float32', 5) as tf.Tensor1D); // not a constant shift: softmax ignores those
    expect(native.loss(features, tokens)).toBeCloseTo(model.loss(features, tokens).dataSync()[0], 5);
    expect(native.loss(features, tokens)).not.toBeCloseTo(before, 3);
    native.trainStep(tf.train.adam(0.1), features, tokens, {});
    fc2.assign(tf.zeros(fc2.shape as [number]) as tf.Tensor1D);
    expect(() => native.loss(features, tokens)).toThrow(/unsynced/);
    native.dispose();
    model.dispose();
  });
});

describe('native decoding', () => {
  it('greedy and beam search give identical captions on both engines (batched and batch 1), and after training steps', async () => {
    const big: CaptionModelConfig = { vocabSize: 40, locations: 6, featureDim: 9, embeddingDim: 10, units: 16, attentionUnits: 8 };
    const model = CaptionModel.create(big, 21);
    const engine = await nativeStepEngine(model, { threads: 1 });
    const features = tf.randomNormal([5, big.locations, big.featureDim], 0, 1.5, 'float32', 7) as tf.Tensor3D;
    const opts = { startId: 1, endId: 2, maxLength: 9 };
    const compare = () => {
      for (const f of [features, features.slice([2, 0, 0], [1, -1, -1]) as tf.Tensor3D]) {
        const tfjs = tfjsStepEngine(model);
        const pairs = [
          [greedyDecode(model, f, { ...opts, engine: tfjs }), greedyDecode(model, f, { ...opts, engine })],
          [beamSearch(model, f, { ...opts, beam: 3, engine: tfjs }), beamSearch(model, f, { ...opts, beam: 3, engine })],
          [greedyDecode(model, f, { ...opts, noRepeatNgram: 2, engine: tfjs }), greedyDecode(model, f, { ...opts, noRepeatNgram: 2, engine })],
        ];
        for (const [tfjs, native] of pairs) {
          native.forEach((r, i) => {
            expect(r.tokens).toEqual(tfjs[i].tokens);
            expect(r.finished).toBe(tfjs[i].finished);
            expect(r.logProb).toBeCloseTo(tfjs[i].logProb, 3);
            r.attention.forEach((a, t) => expect(relError(a, tfjs[i].attention[t])).toBeLessThan(1e-4));
          });
        }
      }
    };
    compare();
    // Weights change (training): the engine rebuilds its sessions from the new weights.
    const random = seededRandom(3);
    const tokens = tf.tensor2d(
      Array.from({ length: 5 }, () => [1, ...Array.from({ length: 6 }, () => 3 + Math.floor(random() * 37)), 2]),
      undefined,
      'int32',
    );
    const optimizer = tf.train.adam(0.05);
    for (let i = 0; i < 15; i++) trainStep(model, optimizer, features, tokens, {});
    compare();
    engine.release();
    model.dispose();
  });

  it('CaptionModel.load attaches the native engine (auto) or not (tfjs), and decodes the same', async () => {
    const model = CaptionModel.create(config, 4);
    const vocab = {
      numWords: 22,
      vocabSize: 23,
      oovToken: '<unk>',
      padToken: '<pad>',
      maxLength: 8,
      wordIndex: Object.fromEntries(Array.from({ length: 22 }, (_, i) => [`w${i + 1}`, i + 1])),
    };
    const featureInfo = { layer: 'mixed10', scaling: '0,1', dim: config.featureDim, locations: config.locations, grid: [1, 5], inputSize: 299, weightsHash: 'h' };
    const dir = join(root, 'model');
    await model.save(dir, { vocab, features: featureInfo });
    const native = await CaptionModel.load(dir);
    const plain = await CaptionModel.load(dir, { engine: 'tfjs' });
    expect(native.stepEngine?.name).toBe('onnx');
    expect(plain.stepEngine?.name).toBe('tfjs');
    const { features } = batch(9);
    const opts = { startId: 1, endId: 2, maxLength: 7 };
    expect(greedyDecode(native, features, opts).map((r) => r.words)).toEqual(greedyDecode(plain, features, opts).map((r) => r.words));
    // A model built another way (e.g. from artifacts) can switch engines explicitly.
    expect(await plain.useEngine('onnx')).toBe('onnx');
    expect(plain.stepEngine?.name).toBe('onnx');
    expect(await plain.useEngine('tfjs')).toBe('tfjs');
    expect(plain.stepEngine?.name).toBe('tfjs');
    // A model with no engine set decodes on the Node default: native here.
    const fresh = CaptionModel.create(config, 4);
    greedyDecode(fresh, features, opts);
    expect(fresh.stepEngine?.name).toBe('onnx');
    fresh.dispose();
    [model, native, plain].forEach((m) => m.dispose());
  });
});
