import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tf, initBackend } from '@captioner/tf';
import { CaptionModel, DataParallelTrainer, trainStep, type CaptionModelConfig } from './index.js';

let backend: 'wasm' | 'cpu' = 'wasm';
beforeAll(async () => {
  try {
    await initBackend({ backend: 'wasm', threads: 1, quiet: true });
  } catch {
    backend = 'cpu';
    await initBackend({ backend: 'cpu', quiet: true });
  }
});

const config: CaptionModelConfig = { vocabSize: 17, locations: 4, featureDim: 6, embeddingDim: 8, units: 12, attentionUnits: 8 };
const weights = (m: CaptionModel) => m.variables.map((v) => v.dataSync().slice() as Float32Array);

// Uneven caption lengths, so replicas and micro-batches hold different numbers of tokens.
const rows = [
  [1, 5, 2, 0, 0, 0],
  [1, 6, 7, 8, 9, 2],
  [1, 3, 2, 0, 0, 0],
  [1, 4, 4, 4, 2, 0],
  [1, 10, 11, 2, 0, 0],
  [1, 12, 13, 14, 2, 0],
  [1, 15, 2, 0, 0, 0],
];

describe('DataParallelTrainer', () => {
  const trainers: DataParallelTrainer[] = [];
  afterAll(async () => {
    await Promise.all(trainers.map((t) => t.dispose()));
  });

  for (const replicas of [2, 3]) {
    it(`${replicas} replicas take the same steps as the serial trainStep (Adam, clipping, micro-batches)`, async () => {
      const trainer = await DataParallelTrainer.start(config, { replicas, backend });
      trainers.push(trainer);
      const serial = CaptionModel.create(config, 4);
      const parallel = CaptionModel.create(config, 4);
      const serialOpt = tf.train.adam(0.01);
      const parallelOpt = tf.train.adam(0.01);
      const tokens = tf.tensor2d(rows, undefined, 'int32');
      const start = weights(serial);
      for (let step = 0; step < 3; step++) {
        const features = tf.randomNormal([rows.length, config.locations, config.featureDim], 0, 1, 'float32', 10 + step) as tf.Tensor3D;
        const opts = { clipNorm: 0.5, attentionPenalty: 0.1, microBatch: 2 };
        const a = trainStep(serial, serialOpt, features, tokens, opts);
        const b = await trainer.trainStep(parallel, parallelOpt, features, tokens, opts);
        expect(b.tokens).toBe(a.tokens);
        expect(b.loss).toBeCloseTo(a.loss, 5);
        expect(b.gradNorm).toBeCloseTo(a.gradNorm, 5);
        features.dispose();
      }
      const ws = weights(serial);
      const wp = weights(parallel);
      let moved = 0;
      let diff = 0;
      ws.forEach((w, i) => {
        for (let j = 0; j < w.length; j++) {
          diff = Math.max(diff, Math.abs(w[j] - wp[i][j]));
          moved = Math.max(moved, Math.abs(w[j] - start[i][j]));
        }
      });
      expect(diff).toBeLessThan(1e-5);
      expect(moved).toBeGreaterThan(1e-3);
      tf.dispose([tokens]);
      serial.dispose();
      parallel.dispose();
      serialOpt.dispose();
      parallelOpt.dispose();
    });
  }

  it('a batch smaller than the replica count runs on fewer replicas; a disposed trainer refuses', async () => {
    const trainer = await DataParallelTrainer.start(config, { replicas: 2, backend });
    const model = CaptionModel.create(config, 1);
    const features = tf.randomNormal([1, config.locations, config.featureDim], 0, 1, 'float32', 3) as tf.Tensor3D;
    const tokens = tf.tensor2d([rows[1]], undefined, 'int32');
    const r = await trainer.trainStep(model, tf.train.sgd(0.1), features, tokens);
    expect(r.tokens).toBe(5);
    await trainer.dispose();
    await expect(trainer.trainStep(model, tf.train.sgd(0.1), features, tokens)).rejects.toThrow(/disposed/);
    await expect(DataParallelTrainer.start(config, { replicas: 0 })).rejects.toThrow(/replicas must be an integer >= 1/);
    tf.dispose([features, tokens]);
    model.dispose();
  });
});
