import { describe, expect, it, beforeAll } from 'vitest';
import { CaptionerError } from '@captioner/core';
import { CaptionModel, encodeModelArtifacts, greedyDecode } from '@captioner/model';
import { initBackend, tf } from '@captioner/tf';
import { dequantizeArtifacts, isQuantized, quantizeArtifacts, quantizeTensor } from './quantize.js';
import { trainedModelFromArtifacts } from './trained.js';

beforeAll(async () => {
  await initBackend({ backend: 'cpu', quiet: true });
});

const config = { vocabSize: 9, locations: 4, featureDim: 6, embeddingDim: 5, units: 7, attentionUnits: 3 };
const wordIndex = { '<unk>': 1, '<sos>': 2, '<eos>': 3, dog: 4, runs: 5, on: 6, grass: 7, red: 8 };
const vocab = { numWords: 8, vocabSize: 9, oovToken: '<unk>', padToken: '<pad>', maxLength: 6, wordIndex };
const features = { backbone: 'mobilenet_v2', layer: 'Conv_1', scaling: '-1,1', dim: 6, locations: 4, grid: [2, 2], inputSize: 224, weightsHash: 'h' };

/** A model whose every weight and bias is non-zero (a fresh model has zero biases, which would hide a mix-up). */
function model(): CaptionModel {
  const fresh = CaptionModel.create(config, 3);
  const weights = Object.fromEntries(Object.entries(fresh.namedWeights()).map(([name, t], k) => [name, tf.add(t, tf.randomUniform(t.shape, 0.05, 0.3, 'float32', 10 + k))]));
  fresh.dispose();
  return CaptionModel.fromWeights(config, weights);
}

describe('uint8 weight quantization', () => {
  it('rounds every value to within half a step of its tensor range', () => {
    const values = Float32Array.from({ length: 1000 }, (_, i) => Math.sin(i) * 3 - 0.5);
    const { bytes, min, scale } = quantizeTensor(values);
    expect(min).toBeCloseTo(Math.min(...values), 5);
    expect(scale).toBeCloseTo((Math.max(...values) - Math.min(...values)) / 255, 6);
    expect(Math.min(...bytes)).toBe(0);
    expect(Math.max(...bytes)).toBe(255);
    values.forEach((v, i) => expect(Math.abs(bytes[i] * scale + min - v)).toBeLessThanOrEqual(scale / 2 + 1e-6));
    // A constant tensor is exact.
    const c = quantizeTensor(new Float32Array(5).fill(0.7));
    expect(Array.from(c.bytes, (q) => q * c.scale + c.min)).toEqual(Array(5).fill(Math.fround(0.7)));
  });

  it('writes the TF.js manifest format that tf.io.decodeWeights reads, a quarter of the float bytes', async () => {
    const m = model();
    const a = await encodeModelArtifacts(m, { vocab, features });
    const q = quantizeArtifacts(a);
    expect(isQuantized(q.modelJson)).toBe(true);
    expect(isQuantized(a.modelJson)).toBe(false);
    expect(q.weightData.byteLength * 4).toBe(a.weightData.byteLength);
    const entries = (q.modelJson as { weightsManifest: { weights: tf.io.WeightsManifestEntry[] }[] }).weightsManifest[0].weights;
    for (const e of entries) expect(e.quantization).toEqual({ dtype: 'uint8', min: expect.any(Number), scale: expect.any(Number) });
    // Dequantized by TF.js itself: each weight within half a step of the original, per tensor.
    const original = m.namedWeights();
    const decoded = tf.io.decodeWeights(q.weightData, entries);
    for (const e of entries) {
      const diff = tf.max(tf.abs(tf.sub(decoded[e.name], original[e.name]))).dataSync()[0];
      expect(diff, e.name).toBeLessThanOrEqual(e.quantization!.scale! / 2 + 1e-6);
    }
    m.dispose();
  });

  it('loads a quantized model that decodes like the float one on these inputs', async () => {
    const m = model();
    const a = await encodeModelArtifacts(m, { vocab, features });
    const float = trainedModelFromArtifacts(a, 'float');
    const quant = trainedModelFromArtifacts(quantizeArtifacts(a), 'quant');
    expect(float.quantized).toBe(false);
    expect(quant.quantized).toBe(true);
    // The dequantized weights are what the loaded model holds.
    const back = dequantizeArtifacts(quantizeArtifacts(a));
    const held = quant.model.namedWeights();
    const fromBack = tf.io.decodeWeights(back.weightData, (back.modelJson as { weightsManifest: { weights: tf.io.WeightsManifestEntry[] }[] }).weightsManifest[0].weights);
    for (const name of Object.keys(held)) expect(Array.from(held[name].dataSync())).toEqual(Array.from(fromBack[name].dataSync()));
    const x = tf.randomNormal([3, 4, 6], 0, 1, 'float32', 7) as tf.Tensor3D;
    const opts = { startId: 2, endId: 3, maxLength: 5 };
    const f = greedyDecode(float.model, x, opts);
    const q = greedyDecode(quant.model, x, opts);
    f.forEach((r, i) => expect(q[i].logProb).toBeCloseTo(r.logProb, 1));
    float.model.dispose();
    quant.model.dispose();
    m.dispose();
  });

  it('names weights.bin when its size does not match the quantized manifest', async () => {
    const m = model();
    const q = quantizeArtifacts(await encodeModelArtifacts(m, { vocab, features }));
    const cut = { ...q, weightData: q.weightData.slice(0, q.weightData.byteLength - 3) };
    expect(() => trainedModelFromArtifacts(cut, '/models/x')).toThrow(CaptionerError);
    expect(() => trainedModelFromArtifacts(cut, '/models/x')).toThrow(/\/models\/x\/weights\.bin: has \d+ bytes, model\.json describes \d+/);
    expect(() => quantizeArtifacts(q)).toThrow(/already quantized/);
    m.dispose();
  });
});
