import { beforeAll, describe, expect, it } from 'vitest';
import { tf, initBackend } from '@captioner/tf';
import { CaptionerError } from '@captioner/core';
import { CaptionModel, dropoutMask, dropoutSeed, type CaptionModelConfig, type LossOptions } from './index.js';
import { captionLoss, decoderStep } from './model.js';

const config: CaptionModelConfig = { vocabSize: 13, locations: 5, featureDim: 7, embeddingDim: 4, units: 6, attentionUnits: 3 };

// <sos>=1, <eos>=2; rows of different lengths with trailing <pad>.
const captions = [
  [1, 4, 5, 2, 0, 0, 0],
  [1, 3, 3, 7, 9, 2, 0],
  [1, 8, 2, 0, 0, 0, 0],
];

function batch(seed = 1) {
  const features = tf.randomNormal([captions.length, config.locations, config.featureDim], 0, 1, 'float32', seed) as tf.Tensor3D;
  const tokens = tf.tensor2d(captions, undefined, 'int32');
  return { features, tokens };
}

/**
 * Every weight and bias set to non-zero random values: a fresh model's biases are zero, and a zero
 * bias hides a fast path that drops one or uses the wrong one.
 */
function randomizeAll(model: CaptionModel, seed: number): void {
  model.variables.forEach((v, i) => v.assign(tf.randomUniform(v.shape, -0.5, 0.5, 'float32', seed * 100 + i)));
}

/** TF.js autodiff of the readable model (model.ts captionLoss), by parameter name: the independent oracle. */
function oracleGradients(model: CaptionModel, features: tf.Tensor3D, tokens: tf.Tensor2D, opts: LossOptions = {}, factor = 1) {
  const { value, grads } = tf.variableGrads(() => captionLoss(model.namedWeights(), features, tokens, opts).mul(factor) as tf.Scalar);
  const byName = Object.fromEntries(model.variables.map((v, i) => [model.parameterNames[i], grads[v.name]]));
  return { loss: value.dataSync()[0], grads: byName };
}

/** Relative error of every parameter's gradient against the oracle's (which must not vanish). */
function expectGradientsClose(model: CaptionModel, ours: (name: string) => tf.Tensor, oracle: Record<string, tf.Tensor>, bound = 1e-4): void {
  for (const name of model.parameterNames) {
    const ref = oracle[name];
    expect(ref, name).toBeDefined();
    const scale = tf.max(tf.abs(ref)).dataSync()[0];
    expect(scale, `${name}: the oracle's gradient vanishes`).toBeGreaterThan(1e-5);
    expect(maxAbsDiff(ours(name), ref) / scale, name).toBeLessThan(bound);
  }
}

function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);
}

beforeAll(async () => {
  try {
    await initBackend({ backend: 'wasm', threads: 1, quiet: true });
  } catch {
    await initBackend({ backend: 'cpu', quiet: true });
  }
});

describe('CaptionModel', () => {
  it('produces the documented shapes, and attention weights sum to 1', () => {
    const model = CaptionModel.create(config, 7);
    const { features } = batch();
    const encoded = model.encode(features);
    expect(encoded.shape).toEqual([3, config.locations, config.embeddingDim]);
    const out = model.step(encoded, tf.tensor1d([1, 1, 1], 'int32'), model.initialHidden(3));
    expect(out.logits.shape).toEqual([3, config.vocabSize]);
    expect(out.hidden.shape).toEqual([3, config.units]);
    expect(out.attention.shape).toEqual([3, config.locations]);
    const sums = out.attention.sum(1).dataSync();
    for (const s of sums) expect(s).toBeCloseTo(1, 5);
    expect(model.variables).toHaveLength(15);
    model.dispose();
  });

  it('initializes identically from the same seed and differently from another', () => {
    const a = CaptionModel.create(config, 3);
    const b = CaptionModel.create(config, 3);
    const c = CaptionModel.create(config, 4);
    a.variables.forEach((v, i) => expect(maxAbsDiff(v, b.variables[i])).toBe(0));
    const kernel = a.parameterNames.indexOf('gru/recurrent_kernel');
    expect(maxAbsDiff(a.variables[kernel], c.variables[kernel])).toBeGreaterThan(0);
    // Keras Orthogonal: the [U, 3U] recurrent kernel has orthonormal rows.
    const w = a.variables[kernel] as tf.Tensor2D;
    const gram = tf.matMul(w, w, false, true);
    expect(maxAbsDiff(gram, tf.eye(config.units))).toBeLessThan(1e-5);
    [a, b, c].forEach((m) => m.dispose());
  });

  it('lossAndGradients (hand-derived backward) equals TF.js autodiff of the readable captionLoss, every parameter, non-zero biases', () => {
    const model = CaptionModel.create(config, 11);
    randomizeAll(model, 1);
    const { features, tokens } = batch();
    const mask = dropoutMask(0.4, 3, captions.length, captions[0].length - 1, config.units);
    const cases: LossOptions[] = [{ attentionPenalty: 0 }, { attentionPenalty: 0.7 }, { attentionPenalty: 0.7, dropoutMask: mask }];
    for (const opts of cases) {
      const ours = model.lossAndGradients(features, tokens, opts);
      const oracle = oracleGradients(model, features, tokens, opts);
      expect(ours.tokens).toBe(3 + 5 + 2);
      expect(ours.loss.dataSync()[0]).toBeCloseTo(oracle.loss, 5);
      expectGradientsClose(model, (name) => ours.grads[model.parameterNames.indexOf(name)], oracle.grads);
    }
    model.dispose();
  });

  it('matches autodiff on a batch large enough for the blocked weight-gradient reductions', () => {
    // B·L = 600 and steps·B = 580 rows exceed the 512-row threshold of the chunked aᵀ·b.
    const wide: CaptionModelConfig = { vocabSize: 9, locations: 30, featureDim: 5, embeddingDim: 4, units: 5, attentionUnits: 3 };
    const model = CaptionModel.create(wide, 8);
    randomizeAll(model, 2);
    const B = 20;
    const rows = Array.from({ length: B }, (_, b) => [1, ...Array.from({ length: 28 }, (_, t) => 3 + ((b + t) % 6)), 2]);
    const tokens = tf.tensor2d(rows, undefined, 'int32');
    const features = tf.randomNormal([B, wide.locations, wide.featureDim], 0, 1, 'float32', 6) as tf.Tensor3D;
    const ours = model.lossAndGradients(features, tokens);
    const oracle = oracleGradients(model, features, tokens);
    expect(ours.tokens).toBe(B * 29);
    expect(ours.loss.dataSync()[0]).toBeCloseTo(oracle.loss, 4);
    expectGradientsClose(model, (name) => ours.grads[model.parameterNames.indexOf(name)], oracle.grads);
    model.dispose();
  });

  it('passes a finite-difference check (hand-written backward: fused attention and GRU gates, dropout)', () => {
    const model = CaptionModel.create(config, 5);
    const { features, tokens } = batch(2);
    const opts: LossOptions = { attentionPenalty: 0.3, dropoutMask: dropoutMask(0.3, 8, captions.length, captions[0].length - 1, config.units) };
    const { grads } = model.lossAndGradients(features, tokens, opts);
    const lossAt = () => model.loss(features, tokens, opts).dataSync()[0];
    const eps = 1e-2;
    let checked = 0;
    model.variables.forEach((v, i) => {
      const base = v.dataSync().slice();
      const g = grads[i].dataSync();
      // Probe the largest-gradient coordinate (well above float32 noise) and one fixed other one.
      let largest = 0;
      for (let j = 1; j < g.length; j++) if (Math.abs(g[j]) > Math.abs(g[largest])) largest = j;
      for (const j of new Set([largest, Math.floor(g.length / 2)])) {
        const probe = (delta: number) => {
          const values = base.slice();
          values[j] += delta;
          v.assign(tf.tensor(values, v.shape));
          return lossAt();
        };
        const numeric = (probe(eps) - probe(-eps)) / (2 * eps);
        v.assign(tf.tensor(base, v.shape));
        expect(Math.abs(numeric - g[j]), `${model.parameterNames[i]}[${j}]`).toBeLessThan(2e-3 + 3e-2 * Math.abs(g[j]));
        checked++;
      }
    });
    expect(checked).toBeGreaterThan(20);
    model.dispose();
  });

  it('loss() is differentiable through tf.variableGrads: its gradient (the fused backward via customGrad) equals autodiff of the readable captionLoss', () => {
    const model = CaptionModel.create(config, 2);
    randomizeAll(model, 3);
    const { features, tokens } = batch();
    const opts: LossOptions = { attentionPenalty: 0.2, dropoutMask: dropoutMask(0.25, 4, captions.length, captions[0].length - 1, config.units) };
    // ×3 checks that the upstream gradient dy is applied.
    const viaTape = tf.variableGrads(() => model.loss(features, tokens, opts).mul(3) as tf.Scalar);
    const oracle = oracleGradients(model, features, tokens, opts, 3);
    expect(viaTape.value.dataSync()[0]).toBeCloseTo(oracle.loss, 5);
    const byName = Object.fromEntries(model.variables.map((v, i) => [model.parameterNames[i], viaTape.grads[v.name]]));
    expectGradientsClose(model, (name) => byName[name], oracle.grads);
    model.dispose();
  });

  it('step() (precomputed keys, sigmoid-domain attention, fused recurrent product) equals the readable decoderStep for several steps from a non-zero state', () => {
    const model = CaptionModel.create(config, 6);
    randomizeAll(model, 4);
    const { features } = batch(3);
    const w = model.namedWeights();
    const encoded = model.encode(features);
    const keys = model.attentionKeys(encoded);
    let fast = tf.randomNormal([3, config.units], 0, 1, 'float32', 7) as tf.Tensor2D;
    let plain = fast;
    const words = [
      [1, 1, 1],
      [4, 3, 8],
      [5, 3, 2],
      [2, 7, 0],
    ];
    for (const prev of words) {
      const ids = tf.tensor1d(prev, 'int32');
      const a = model.step(encoded, ids, fast, keys);
      const b = tf.tidy(() => decoderStep(w, encoded, ids, plain));
      expect(maxAbsDiff(a.logits, b.logits)).toBeLessThan(1e-5);
      expect(maxAbsDiff(a.hidden, b.hidden)).toBeLessThan(1e-5);
      expect(maxAbsDiff(a.attention, b.attention)).toBeLessThan(1e-5);
      // Without precomputed keys, the same step.
      expect(maxAbsDiff(model.step(encoded, ids, fast).logits, a.logits)).toBe(0);
      [fast, plain] = [a.hidden, b.hidden];
    }
    expect(tf.max(tf.abs(fast)).dataSync()[0]).toBeGreaterThan(0.1);
    model.dispose();
  });

  it('dropout: rate 0 gives exactly the numbers without dropout; masks are seeded, scaled and change the loss', () => {
    const model = CaptionModel.create(config, 2);
    const { features, tokens } = batch();
    const [B, T1, U] = [captions.length, captions[0].length - 1, config.units];
    const plain = model.lossAndGradients(features, tokens);
    const rateZero = model.lossAndGradients(features, tokens, { dropoutMask: dropoutMask(0, 9, B, T1, U) });
    expect(rateZero.loss.dataSync()[0]).toBe(plain.loss.dataSync()[0]);
    plain.grads.forEach((g, i) => expect(maxAbsDiff(g, rateZero.grads[i])).toBe(0));

    const mask = dropoutMask(0.3, 9, B, T1, U);
    expect(dropoutMask(0.3, 9, B, T1, U)).toEqual(mask);
    expect(dropoutMask(0.3, 10, B, T1, U)).not.toEqual(mask);
    const keep = Math.fround(1 / 0.7);
    expect(mask.every((m) => m === 0 || m === keep)).toBe(true);
    const big = dropoutMask(0.3, 1, 100, 10, 100);
    expect(big.filter((m) => m === 0).length / big.length).toBeCloseTo(0.3, 2);
    const dropped = model.lossAndGradients(features, tokens, { dropoutMask: mask });
    expect(Math.abs(dropped.loss.dataSync()[0] - plain.loss.dataSync()[0])).toBeGreaterThan(1e-4);
    expect(() => model.loss(features, tokens, { dropoutMask: new Float32Array(5) })).toThrow(/dropoutMask/);
    expect(() => dropoutMask(1, 0, 1, 1, 1)).toThrow(/dropout rate/);
    // Per-step seeds: distinct across steps and runs, fixed for (seed, step).
    const seeds = new Set(Array.from({ length: 1000 }, (_, s) => dropoutSeed(31, s)));
    expect(seeds.size).toBe(1000);
    expect(dropoutSeed(31, 7)).toBe(dropoutSeed(31, 7));
    expect(dropoutSeed(32, 7)).not.toBe(dropoutSeed(31, 7));
    model.dispose();
  });

  it('the GRU continues from the previous hidden state (tensorflow/tensorflow#38248 is fixed)', () => {
    const model = CaptionModel.create(config, 9);
    const { features } = batch();
    const encoded = model.encode(features);
    const previous = tf.randomNormal([3, config.units], 0, 1, 'float32', 4) as tf.Tensor2D;
    // Saturate the update gate (z ≈ 1): a correct GRU then returns the previous state unchanged;
    // the tutorial's `self.gru(x)` (state reset to zeros) would return ≈ 0.
    const bias = model.variables[model.parameterNames.indexOf('gru/bias')];
    const values = bias.arraySync() as number[][];
    for (let u = 0; u < config.units; u++) values[0][u] = 40;
    bias.assign(tf.tensor2d(values));
    const out = model.step(encoded, tf.tensor1d([4, 5, 6], 'int32'), previous);
    expect(maxAbsDiff(out.hidden, previous)).toBeLessThan(1e-5);
    expect(tf.max(tf.abs(previous)).dataSync()[0]).toBeGreaterThan(0.5);
    model.dispose();
  });

  it('teacher-forced step() calls reproduce the training loss', () => {
    const model = CaptionModel.create(config, 4);
    const { features, tokens } = batch();
    const encoded = model.encode(features);
    let hidden = model.initialHidden(3);
    let total = 0;
    let count = 0;
    for (let t = 0; t + 1 < captions[0].length; t++) {
      const out = model.step(
        encoded,
        tf.tensor1d(
          captions.map((c) => c[t]),
          'int32',
        ),
        hidden,
      );
      hidden = out.hidden;
      const logp = tf.logSoftmax(out.logits).arraySync() as number[][];
      captions.forEach((c, b) => {
        if (c[t + 1] !== 0) {
          total -= logp[b][c[t + 1]];
          count++;
        }
      });
    }
    expect(model.loss(features, tokens).dataSync()[0]).toBeCloseTo(total / count, 5);
    model.dispose();
  });

  it('ignores trailing padding and rejects bad input with clear errors', () => {
    const model = CaptionModel.create(config, 4);
    const { features, tokens } = batch();
    const padded = tf.concat([tokens, tf.zeros([3, 4], 'int32')], 1) as tf.Tensor2D;
    expect(model.loss(features, padded).dataSync()[0]).toBeCloseTo(model.loss(features, tokens).dataSync()[0], 6);
    expect(() =>
      model.loss(
        features,
        tf.tensor2d(
          [
            [1, 99],
            [1, 2],
            [1, 2],
          ],
          undefined,
          'int32',
        ),
      ),
    ).toThrow(/token id 99/);
    expect(() => model.loss(tf.zeros([3, 5, 8]) as tf.Tensor3D, tokens)).toThrow(CaptionerError);
    expect(() => CaptionModel.create({ ...config, units: 0 })).toThrow(/units/);
    const allPad = model.lossAndGradients(
      features,
      tf.tensor2d(
        [
          [1, 0],
          [1, 0],
          [1, 0],
        ],
        undefined,
        'int32',
      ),
    );
    expect(allPad.tokens).toBe(0);
    expect(allPad.loss.dataSync()[0]).toBe(0);
    model.dispose();
  });

  it('keeps the tensor count flat across training steps', () => {
    const model = CaptionModel.create(config, 4);
    const { features, tokens } = batch();
    const run = () => {
      const r = model.lossAndGradients(features, tokens, { attentionPenalty: 0.5 });
      tf.dispose([r.loss, ...r.grads]);
    };
    run();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) run();
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
  });
});
