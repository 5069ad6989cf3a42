import { beforeAll, describe, expect, it } from 'vitest';
import { tf, initBackend } from '@captioner/tf';
import { seededRandom } from '@captioner/core';
import { batchDropoutMask, CaptionModel, greedyDecode, trainStep, type CaptionModelConfig } from './index.js';

beforeAll(async () => {
  try {
    await initBackend({ backend: 'wasm', threads: 1, quiet: true });
  } catch {
    await initBackend({ backend: 'cpu', quiet: true });
  }
});

const config: CaptionModelConfig = { vocabSize: 17, locations: 4, featureDim: 6, embeddingDim: 8, units: 12, attentionUnits: 8 };

function weights(model: CaptionModel): Float32Array[] {
  return model.variables.map((v) => v.dataSync().slice() as Float32Array);
}

describe('trainStep', () => {
  it('micro-batch gradients equal the full-batch gradient (token-weighted)', () => {
    // Uneven caption lengths so micro-batches hold different numbers of tokens.
    const tokens = tf.tensor2d(
      [
        [1, 5, 2, 0, 0, 0],
        [1, 6, 7, 8, 9, 2],
        [1, 3, 2, 0, 0, 0],
        [1, 4, 4, 4, 2, 0],
        [1, 10, 11, 2, 0, 0],
      ],
      undefined,
      'int32',
    );
    const features = tf.randomNormal([5, config.locations, config.featureDim], 0, 1, 'float32', 3) as tf.Tensor3D;
    const full = CaptionModel.create(config, 1);
    const micro = CaptionModel.create(config, 1);
    const start = weights(full);
    // Dropout on: the batch's mask is cut by rows, so micro-batches see the units the full batch does.
    const a = trainStep(full, tf.train.sgd(1), features, tokens, { attentionPenalty: 0.2, dropout: 0.3, dropoutSeed: 12 });
    const b = trainStep(micro, tf.train.sgd(1), features, tokens, { attentionPenalty: 0.2, dropout: 0.3, dropoutSeed: 12, microBatch: 2 });
    expect(b.tokens).toBe(a.tokens);
    expect(b.loss).toBeCloseTo(a.loss, 5);
    expect(b.gradNorm).toBeCloseTo(a.gradNorm, 5);
    const wa = weights(full);
    const wb = weights(micro);
    let moved = 0;
    wa.forEach((w, i) => {
      for (let j = 0; j < w.length; j++) {
        expect(Math.abs(w[j] - wb[i][j])).toBeLessThan(1e-6);
        moved = Math.max(moved, Math.abs(w[j] - start[i][j]));
      }
    });
    expect(moved).toBeGreaterThan(1e-4);
    full.dispose();
    micro.dispose();
  });

  it('dropout 0 is the plain step exactly; a given seed reproduces the step and the explicit mask equals it', () => {
    const features = tf.randomNormal([2, config.locations, config.featureDim], 0, 1, 'float32', 5) as tf.Tensor3D;
    const tokens = tf.tensor2d(
      [
        [1, 5, 6, 2],
        [1, 7, 2, 0],
      ],
      undefined,
      'int32',
    );
    const run = (opts: Parameters<typeof trainStep>[4]) => {
      const model = CaptionModel.create(config, 2);
      const r = trainStep(model, tf.train.adam(0.01), features, tokens, { clipNorm: 5, ...opts });
      const w = weights(model);
      model.dispose();
      return { r, w };
    };
    const plain = run({});
    expect(run({ dropout: 0, dropoutSeed: 77 })).toEqual(plain);
    const seeded = run({ dropout: 0.5, dropoutSeed: 77 });
    expect(seeded.r.loss).not.toBe(plain.r.loss);
    expect(run({ dropout: 0.5, dropoutSeed: 77 })).toEqual(seeded);
    const probe = CaptionModel.create(config, 2);
    const mask = batchDropoutMask(probe, tokens, { dropout: 0.5, dropoutSeed: 77 })!;
    probe.dispose();
    expect(run({ dropoutMask: mask })).toEqual(seeded);
    expect(run({ dropout: 0.5, dropoutSeed: 78 }).r.loss).not.toBe(seeded.r.loss);
  });

  it('clips the update to clipNorm and reports the unclipped norm', () => {
    const model = CaptionModel.create(config, 2);
    const features = tf.randomNormal([2, config.locations, config.featureDim], 0, 1, 'float32', 5) as tf.Tensor3D;
    const tokens = tf.tensor2d(
      [
        [1, 5, 6, 2],
        [1, 7, 2, 0],
      ],
      undefined,
      'int32',
    );
    const before = weights(model);
    const clipNorm = 1e-3;
    const r = trainStep(model, tf.train.sgd(1), features, tokens, { clipNorm });
    expect(r.gradNorm).toBeGreaterThan(clipNorm);
    let sq = 0;
    weights(model).forEach((w, i) => w.forEach((x, j) => (sq += (x - before[i][j]) ** 2)));
    expect(Math.sqrt(sq)).toBeCloseTo(clipNorm, 6);
    model.dispose();
  });

  it('overfits 20 image/caption pairs: loss near zero and greedy decoding reproduces every caption', () => {
    const overfitConfig: CaptionModelConfig = { vocabSize: 24, locations: 4, featureDim: 16, embeddingDim: 16, units: 32, attentionUnits: 16 };
    const random = seededRandom(42);
    const pairs = 20;
    const maxLength = 9;
    const seen = new Set<string>();
    const captions: number[][] = [];
    while (captions.length < pairs) {
      const words = Array.from({ length: 2 + Math.floor(random() * 5) }, () => 3 + Math.floor(random() * 21));
      const key = words.join(' ');
      if (seen.has(key)) continue;
      seen.add(key);
      captions.push(words);
    }
    const rows = captions.map((w) => [1, ...w, 2, ...new Array(maxLength - w.length - 2).fill(0)]);
    const tokens = tf.tensor2d(rows, undefined, 'int32');
    const features = tf.randomNormal([pairs, overfitConfig.locations, overfitConfig.featureDim], 0, 1, 'float32', 9) as tf.Tensor3D;
    const model = CaptionModel.create(overfitConfig, 1);
    const optimizer = tf.train.adam(0.01);
    let last = { loss: Infinity, tokens: 0, gradNorm: 0 };
    for (let step = 0; step < 400 && last.loss > 0.01; step++) {
      last = trainStep(model, optimizer, features, tokens, { clipNorm: 5 });
    }
    expect(last.loss).toBeLessThan(0.02);
    const decoded = greedyDecode(model, features, { startId: 1, endId: 2, maxLength: maxLength });
    decoded.forEach((d, i) => {
      expect(d.tokens).toEqual(captions[i]);
      expect(d.finished).toBe(true);
    });
    model.dispose();
    optimizer.dispose();
  });
});
