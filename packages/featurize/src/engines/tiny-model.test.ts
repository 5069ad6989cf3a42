/**
 * The ONNX exporter against TF.js on a tiny hand-built Keras model that exercises every rule the
 * exporter implements: asymmetric 'same' pads (even input, stride 2; even kernel), BN folded into a
 * conv (with and without gamma/bias), a conv with its own ReLU (not foldable), a standalone BN,
 * 'same' max/average pooling, channel concatenation and the final 2x2 feature pooling.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as ort from 'onnxruntime-node';
import { initBackend, tf } from '@captioner/tf';
import { seededRandom } from '@captioner/core';
import { decodeWeights, loadLayersModelDir, truncateModel, type KerasLayerConfig, type WeightSpec } from './inception.js';
import { kerasPads, kerasToOnnx, ONNX_INPUT, ONNX_OUTPUT } from './onnx-export.js';
import { memoryIOHandler } from './tfjs-engine.js';

const SIZE = 10;

function tinyModel() {
  const random = seededRandom(7);
  const layers: KerasLayerConfig[] = [];
  const specs: WeightSpec[] = [];
  const values: Float32Array[] = [];
  const addWeight = (name: string, shape: number[], make: () => number) => {
    const v = new Float32Array(shape.reduce((a, b) => a * b, 1)).map(make);
    specs.push({ name, shape, dtype: 'float32' });
    values.push(v);
  };
  const uniform = (lo: number, hi: number) => () => lo + (hi - lo) * random();
  const layer = (class_name: string, name: string, inputs: string[], config: Record<string, unknown>) =>
    layers.push({ name, class_name, config: { name, ...config }, inbound_nodes: inputs.length ? [inputs.map((i) => [i, 0, 0, {}])] : [] });
  const conv = (name: string, input: string, inC: number, filters: number, k: number, s: number, padding: string, extra: Record<string, unknown> = {}) => {
    const useBias = extra.use_bias ?? false;
    layer('Conv2D', name, [input], {
      filters,
      kernel_size: [k, k],
      strides: [s, s],
      padding,
      data_format: 'channels_last',
      dilation_rate: [1, 1],
      activation: 'linear',
      use_bias: useBias,
      ...extra,
    });
    addWeight(`${name}/kernel`, [k, k, inC, filters], uniform(-0.5, 0.5));
    if (useBias) addWeight(`${name}/bias`, [filters], uniform(-0.2, 0.2));
  };
  const bn = (name: string, input: string, c: number, scale: boolean) => {
    layer('BatchNormalization', name, [input], { axis: 3, momentum: 0.99, epsilon: 0.001, center: true, scale });
    if (scale) addWeight(`${name}/gamma`, [c], uniform(0.5, 1.5));
    addWeight(`${name}/beta`, [c], uniform(-0.5, 0.5));
    addWeight(`${name}/moving_mean`, [c], uniform(-0.3, 0.3));
    addWeight(`${name}/moving_variance`, [c], uniform(0.2, 2));
  };
  layer('InputLayer', 'input_1', [], { batch_input_shape: [null, SIZE, SIZE, 3], dtype: 'float32', sparse: false });
  conv('conv_a', 'input_1', 3, 4, 3, 2, 'same'); // 10 → 5, pads 0/1
  bn('bn_a', 'conv_a', 4, false);
  layer('Activation', 'act_a', ['bn_a'], { activation: 'relu' });
  conv('conv_b', 'input_1', 3, 5, 1, 1, 'valid', { use_bias: true, activation: 'relu' });
  layer('MaxPooling2D', 'max_b', ['conv_b'], { pool_size: [3, 3], strides: [2, 2], padding: 'same', data_format: 'channels_last' });
  conv('conv_c', 'input_1', 3, 3, 2, 1, 'same', { use_bias: true }); // even kernel: pads 0/1
  bn('bn_c', 'conv_c', 3, true);
  layer('AveragePooling2D', 'avg_c', ['bn_c'], { pool_size: [3, 3], strides: [2, 2], padding: 'same', data_format: 'channels_last' });
  layer('Concatenate', 'concat', ['act_a', 'max_b', 'avg_c'], { axis: -1 });
  bn('bn_d', 'concat', 12, true); // standalone: its input is not a conv
  layer('Activation', 'act_d', ['bn_d'], { activation: 'relu' });
  layer('Dropout', 'dropout', ['act_d'], { rate: 0.5 });
  // An unused head, to check truncation drops it and its weights.
  layer('Flatten', 'flatten', ['dropout'], {});
  layer('Dense', 'dense', ['flatten'], { units: 2, activation: 'linear', use_bias: true });
  addWeight('dense/kernel', [5 * 5 * 12, 2], uniform(-1, 1));
  addWeight('dense/bias', [2], uniform(-1, 1));

  const weightData = new Uint8Array(values.reduce((n, v) => n + v.byteLength, 0));
  let at = 0;
  for (const v of values) {
    weightData.set(new Uint8Array(v.buffer), at);
    at += v.byteLength;
  }
  const modelConfig = { name: 'tiny', layers, input_layers: [['input_1', 0, 0]], output_layers: [['dense', 0, 0]] };
  const topology = { keras_version: '2.2.4', backend: 'tensorflow', model_config: { class_name: 'Model', config: modelConfig } };
  return { topology, weightSpecs: specs, weightData };
}

function input(n: number): Float32Array {
  const random = seededRandom(11);
  return new Float32Array(n * SIZE * SIZE * 3).map(() => random());
}

describe('kerasPads', () => {
  it('matches TF "same" padding, extra pixel at the end', () => {
    expect(kerasPads('same', 10, 3, 2)).toEqual({ out: 5, begin: 0, end: 1 });
    expect(kerasPads('same', 11, 3, 2)).toEqual({ out: 6, begin: 1, end: 1 });
    expect(kerasPads('same', 17, 3, 1)).toEqual({ out: 17, begin: 1, end: 1 });
    expect(kerasPads('same', 17, 7, 1)).toEqual({ out: 17, begin: 3, end: 3 });
    expect(kerasPads('same', 8, 2, 1)).toEqual({ out: 8, begin: 0, end: 1 });
    expect(kerasPads('same', 8, 3, 1, 2)).toEqual({ out: 8, begin: 2, end: 2 });
  });
  it('matches TF "valid" output sizes of InceptionV3', () => {
    expect(kerasPads('valid', 299, 3, 2).out).toBe(149);
    expect(kerasPads('valid', 35, 3, 2).out).toBe(17);
    expect(kerasPads('valid', 17, 3, 2).out).toBe(8);
    expect(() => kerasPads('valid', 2, 3, 1)).toThrow(/does not fit/);
    expect(() => kerasPads('causal', 8, 3, 1)).toThrow(/unsupported padding "causal"/);
  });
});

describe('kerasToOnnx on a tiny Keras model', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tiny-keras-'));
  let model: ReturnType<typeof tinyModel>;
  beforeAll(async () => {
    await initBackend({ quiet: true });
    model = tinyModel();
    // Round-trip through a TF.js layers-model folder, as `featurize.weights: DIR` reads it.
    writeFileSync(join(dir, 'group1-shard1of1.bin'), model.weightData);
    writeFileSync(
      join(dir, 'model.json'),
      JSON.stringify({ format: 'layers-model', modelTopology: model.topology, weightsManifest: [{ paths: ['group1-shard1of1.bin'], weights: model.weightSpecs }] }),
    );
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  for (const poolBy of [1, 2]) {
    it(`gives TF.js's output (pool ${poolBy}x${poolBy}) and folds conv+BN`, async () => {
      const raw = loadLayersModelDir(dir);
      // truncateModel's layer type names the InceptionV3 layers; any layer name works at runtime.
      const truncated = truncateModel(raw, 'dropout' as 'mixed10');
      expect(truncated.modelConfig.layers.map((l) => l.name)).not.toContain('dense');
      expect(truncated.weightSpecs.map((s) => s.name)).not.toContain('dense/kernel');

      const graph = kerasToOnnx({
        modelConfig: truncated.modelConfig,
        weights: decodeWeights(truncated.weightSpecs, truncated.weightData),
        inputSize: SIZE,
        outputLayer: 'dropout',
        poolBy,
      });
      const grid = poolBy === 1 ? 5 : 2;
      expect(graph.outputShape).toEqual([grid, grid, 12]);
      // Transpose, conv_a(+bn_a), relu, conv_b, relu, maxpool, conv_c(+bn_c), avgpool, concat,
      // bn_d as mul+add, relu, [pool], transpose, reshape: folded BNs add no nodes.
      expect(graph.nodeCount).toBe(poolBy === 1 ? 14 : 15);

      const n = 3;
      const pixels = input(n);
      const session = await ort.InferenceSession.create(graph.bytes);
      const result = await session.run({ [ONNX_INPUT]: new ort.Tensor('float32', pixels, [n, SIZE, SIZE, 3]) });
      const onnx = result[ONNX_OUTPUT];
      expect(onnx.dims).toEqual([n, grid * grid, 12]);
      await session.release();

      const tfModel = await tf.loadLayersModel(memoryIOHandler(truncated));
      const expected = tf.tidy(() => {
        let y = tfModel.predict(tf.tensor4d(pixels, [n, SIZE, SIZE, 3])) as tf.Tensor4D;
        if (poolBy > 1) y = tf.avgPool(y, poolBy, poolBy, 'valid');
        return y.reshape([n, grid * grid, 12]).dataSync() as Float32Array;
      });
      tfModel.dispose();
      const got = onnx.data as Float32Array;
      let maxDiff = 0;
      let maxAbs = 0;
      for (let i = 0; i < expected.length; i++) {
        maxDiff = Math.max(maxDiff, Math.abs(got[i] - expected[i]));
        maxAbs = Math.max(maxAbs, Math.abs(expected[i]));
      }
      expect(maxAbs).toBeGreaterThan(0.1); // the comparison is not vacuous
      expect(maxDiff).toBeLessThan(1e-5 * Math.max(1, maxAbs));
    });
  }

  it('rejects layers it cannot convert, naming the layer', () => {
    const raw = loadLayersModelDir(dir);
    expect(() => kerasToOnnx({ modelConfig: raw.modelConfig, weights: decodeWeights(raw.weightSpecs, raw.weightData), inputSize: SIZE, outputLayer: 'dense', poolBy: 1 })).toThrow(
      /layer "flatten" \(Flatten\): layer class Flatten is not supported/,
    );
  });

  it('explains a missing weight file and an unknown layer', () => {
    const broken = mkdtempSync(join(tmpdir(), 'tiny-keras-broken-'));
    try {
      writeFileSync(
        join(broken, 'model.json'),
        JSON.stringify({ format: 'layers-model', modelTopology: model.topology, weightsManifest: [{ paths: ['missing.bin'], weights: model.weightSpecs }] }),
      );
      expect(() => loadLayersModelDir(broken)).toThrow(/weightsManifest names missing\.bin, but .*missing\.bin is missing/);
      expect(() => truncateModel(loadLayersModelDir(dir), 'mixed10')).toThrow(/featurize\.layer: .*model\.json has no layer named "mixed10"/);
      expect(() => loadLayersModelDir(join(broken, 'nope'))).toThrow(/nope\/model\.json does not exist/);
    } finally {
      rmSync(broken, { recursive: true, force: true });
    }
  });
});
