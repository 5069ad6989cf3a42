/** The TF.js engine: the truncated Keras model on whatever TF.js backend is active (wasm by default). */
import { CaptionerError } from '@captioner/core';
import type { FeatureExtractor, FeatureExtractorOptions } from '../extractor.js';
import { FEATURE_LAYERS, loadTruncatedModel, type TruncatedModel } from './inception.js';
import { makeExtractor, threadsLabel } from './extractor-base.js';
import { initBackend, tf } from '@captioner/tf';

/** An IOHandler over in-memory artifacts: nothing is fetched. */
export function memoryIOHandler(model: Pick<TruncatedModel, 'topology' | 'weightSpecs' | 'weightData'>): tf.io.IOHandler {
  return {
    load: async () => ({
      modelTopology: model.topology as tf.io.ModelArtifacts['modelTopology'],
      weightSpecs: model.weightSpecs as tf.io.WeightsManifestEntry[],
      // A standalone ArrayBuffer of exactly the kept weights.
      weightData: model.weightData.slice().buffer,
      format: 'layers-model',
    }),
  };
}

export async function createTfjsExtractor(opts: FeatureExtractorOptions): Promise<FeatureExtractor> {
  const truncated = loadTruncatedModel(opts);
  // Idempotent: keeps the backend the process already chose (wasm by default, CAPTIONER_BACKEND/THREADS apply).
  const backend = await initBackend();
  const model = await tf.loadLayersModel(memoryIOHandler(truncated));
  const geometry = FEATURE_LAYERS[opts.layer];
  const size = truncated.inputSize;
  const outShape = model.outputs[0].shape; // [null, h, w, c]
  const pooled = [Math.floor((outShape[1] ?? 0) / geometry.poolBy), Math.floor((outShape[2] ?? 0) / geometry.poolBy)];
  if (outShape[3] !== geometry.dim || pooled[0] !== geometry.grid[0] || pooled[1] !== geometry.grid[1]) {
    model.dispose();
    throw new CaptionerError(
      `${truncated.origin}: layer ${opts.layer} gives ${JSON.stringify(outShape)} for ${size}x${size} input, ` +
        `expected ${geometry.grid.join('x')}x${geometry.dim} after ${geometry.poolBy}x${geometry.poolBy} pooling`,
    );
  }
  const locations = geometry.grid[0] * geometry.grid[1];
  const run = async (pixels: Float32Array, n: number): Promise<Float32Array> => {
    const out = tf.tidy(() => {
      let y = model.predict(tf.tensor4d(pixels, [n, size, size, 3])) as tf.Tensor4D;
      if (geometry.poolBy > 1) y = tf.avgPool(y, geometry.poolBy, geometry.poolBy, 'valid');
      return y.reshape([n, locations, geometry.dim]);
    });
    try {
      return (await out.data()) as Float32Array;
    } finally {
      out.dispose();
    }
  };
  return makeExtractor(truncated, opts.layer, `tfjs (${backend.name}, ${threadsLabel(backend.threads)})`, run, () => model.dispose());
}
