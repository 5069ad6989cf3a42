/**
 * The TF.js engine on whatever TF.js backend is active (wasm by default): the truncated Keras
 * InceptionV3 as a layers model, or MobileNetV2 built from its TFLite file as TF.js ops.
 */
import { CaptionerError } from '@captioner/core';
import type { FeatureExtractor, FeatureExtractorOptions } from '../extractor.js';
import type { InceptionLayer, MobileNetLayer } from './backbones.js';
import { FEATURE_LAYERS, loadTruncatedModel, type TruncatedModel } from './inception.js';
import { backboneFor, makeExtractor, threadsLabel } from './extractor-base.js';
import { loadMobileNet } from './mobilenet-load.js';
import { mobileNetToTfjs } from './mobilenet-tfjs.js';
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
  if (backboneFor(opts) === 'mobilenet_v2') return createMobileNetTfjsExtractor(opts);
  const layer = opts.layer as InceptionLayer;
  const truncated = loadTruncatedModel({ layer, weights: opts.weights });
  // Idempotent: keeps the backend the process already chose (wasm by default, CAPTIONER_BACKEND/THREADS apply).
  const backend = await initBackend();
  const model = await tf.loadLayersModel(memoryIOHandler(truncated));
  const geometry = FEATURE_LAYERS[layer];
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

async function createMobileNetTfjsExtractor(opts: FeatureExtractorOptions): Promise<FeatureExtractor> {
  const loaded = loadMobileNet({ target: opts.layer as MobileNetLayer, weights: opts.weights });
  const backend = await initBackend();
  const model = mobileNetToTfjs(loaded.net, tf);
  const size = loaded.inputSize;
  const run = async (pixels: Float32Array, n: number): Promise<Float32Array> => {
    const out = tf.tidy(() => model.predict(tf.tensor4d(pixels, [n, size, size, 3])));
    try {
      return (await out.data()) as Float32Array;
    } finally {
      out.dispose();
    }
  };
  return makeExtractor(loaded, opts.layer, `tfjs (${backend.name}, ${threadsLabel(backend.threads)})`, run, () => model.dispose());
}
