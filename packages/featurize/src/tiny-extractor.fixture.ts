/**
 * Test double for the engines: a small real TF.js conv net (seeded weights) behind the
 * FeatureExtractor interface, counting calls so tests can tell what was recomputed.
 */
import { createHash } from 'node:crypto';
import { initBackend, tf } from '@captioner/tf';
import type { FeatureExtractor } from './extractor.js';

export interface TinyExtractor extends FeatureExtractor {
  /** extract() calls and images passed through them so far. */
  calls: number;
  imagesSeen: number;
  /** Throw on this call number (1-based) to simulate an engine failure mid-run. */
  failOnCall?: number;
}

export async function createTinyExtractor(opts: { inputSize?: number; grid?: number; dim?: number; seed?: number } = {}): Promise<TinyExtractor> {
  await initBackend({ backend: 'cpu', quiet: true });
  const inputSize = opts.inputSize ?? 299;
  const grid = opts.grid ?? 2;
  const dim = opts.dim ?? 8;
  const seed = opts.seed ?? 1;
  // conv 3x3/4 → ReLU → average pool to grid x grid → 1x1 conv to `dim` channels.
  const model = tf.sequential({
    layers: [
      tf.layers.conv2d({
        inputShape: [inputSize, inputSize, 3],
        filters: 4,
        kernelSize: 3,
        strides: 4,
        activation: 'relu',
        kernelInitializer: tf.initializers.glorotUniform({ seed }),
        biasInitializer: 'ones',
      }),
      tf.layers.averagePooling2d({ poolSize: Math.floor(Math.ceil(inputSize / 4) / grid), strides: Math.floor(Math.ceil(inputSize / 4) / grid) }),
      tf.layers.conv2d({ filters: dim, kernelSize: 1, kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 1 }) }),
    ],
  });
  const outShape = model.outputs[0].shape;
  if (outShape[1] !== grid || outShape[2] !== grid) throw new Error(`tiny extractor: got grid ${outShape[1]}x${outShape[2]}, wanted ${grid}x${grid}`);
  const hash = createHash('sha256');
  for (const w of model.getWeights()) hash.update(new Uint8Array(w.dataSync().buffer));
  const extractor: TinyExtractor = {
    engine: 'tiny-test-net (tfjs cpu)',
    inputSize,
    locations: grid * grid,
    grid: [grid, grid],
    dim,
    weightsHash: hash.digest('hex'),
    calls: 0,
    imagesSeen: 0,
    async extract(pixels, n) {
      extractor.calls++;
      if (extractor.failOnCall === extractor.calls) throw new Error('simulated engine failure');
      extractor.imagesSeen += n;
      const out = tf.tidy(() => (model.predict(tf.tensor4d(pixels, [n, inputSize, inputSize, 3])) as tf.Tensor).reshape([n, grid * grid * dim]));
      const data = (await out.data()) as Float32Array;
      out.dispose();
      return data;
    },
    dispose() {
      model.dispose();
    },
  };
  return extractor;
}
