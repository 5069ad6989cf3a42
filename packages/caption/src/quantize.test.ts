import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, beforeAll } from 'vitest';
import { CaptionerError } from '@captioner/core';
import { CaptionModel, encodeModelArtifacts, greedyDecode } from '@captioner/model';
import { initBackend, tf } from '@captioner/tf';
import { dequantizeArtifacts, float16ByRule, float16Tensor, isQuantized, quantizationStats, quantizeArtifacts, quantizeTensor } from './quantize.js';
import { trainedModelFromArtifacts } from './trained.js';
import { loadTrainedModel } from './node.js';

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

  it('with the least-squares range, clips rare outliers when a finer step pays for it', () => {
    // 10^5 values in [-2, 2] plus two outliers at ±3 that stretch the min/max range by half.
    const values = Float32Array.from({ length: 100_000 }, (_, i) => Math.sin(i * 12.9898) * 2);
    values[17] = 3;
    values[4242] = -3;
    const sse = (q: ReturnType<typeof quantizeTensor>) => values.reduce((n, v, i) => n + (q.bytes[i] * q.scale + q.min - v) ** 2, 0);
    const minmax = quantizeTensor(values);
    const mse = quantizeTensor(values, 'mse');
    expect(mse.scale).toBeLessThan(minmax.scale * 0.8);
    expect(sse(mse)).toBeLessThan(sse(minmax));
    // Values inside the chosen range still round to within half a step; at most the ladder's 1000 per end are clipped.
    let inside = 0;
    let worst = 0;
    values.forEach((v, i) => {
      if (v < mse.min || v > mse.min + 255 * mse.scale) return;
      inside++;
      worst = Math.max(worst, Math.abs(mse.bytes[i] * mse.scale + mse.min - v));
    });
    expect(inside).toBeGreaterThanOrEqual(values.length - 2000);
    expect(worst).toBeLessThanOrEqual(mse.scale / 2 + 1e-6);
    // Far outliers cost more clipped than a coarser step does: then the range stays min/max.
    values[17] = 40;
    expect(quantizeTensor(values, 'mse')).toEqual(quantizeTensor(values));
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

type Entries = { weightsManifest: { weights: tf.io.WeightsManifestEntry[] }[] };
const entriesOf = (modelJson: unknown) => (modelJson as Entries).weightsManifest[0].weights;

describe('mixed uint8 / float16 weights', () => {
  it('rounds float16 within 2^-11 of each value, and refuses values beyond its range', () => {
    const values = Float32Array.from({ length: 2000 }, (_, i) => Math.sin(i * 0.37) * 10 ** ((i % 9) - 5));
    const bytes = float16Tensor(values);
    expect(bytes.byteLength).toBe(2 * values.length);
    const back = tf.io.decodeWeights(bytes.slice().buffer, [{ name: 'h', shape: [values.length], dtype: 'float32', quantization: { dtype: 'float16' } }]).h.dataSync();
    // Normal halves: relative error ≤ 2^-11; below 2^-14 (subnormals) the absolute step is 2^-24.
    values.forEach((v, i) => expect(Math.abs(back[i] - v), `${i}: ${v}`).toBeLessThanOrEqual(Math.max(Math.abs(v) * 2 ** -11, 2 ** -25)));
    expect(() => float16Tensor(Float32Array.of(1, 70000), 'fc/kernel')).toThrow(/fc\/kernel\[1\] = 70000 does not fit float16/);
  });

  it('stores the named weights as float16 and the rest uint8, in the manifest format tf.io.decodeWeights reads', async () => {
    const m = model();
    const a = await encodeModelArtifacts(m, { vocab, features });
    const half = ['embedding/embeddings', 'gru/bias'];
    const q = quantizeArtifacts(a, '', { float16: half });
    const entries = entriesOf(q.modelJson);
    const floatEntries = entriesOf(a.modelJson);
    const size = (e: tf.io.WeightsManifestEntry) => e.shape.reduce((x, y) => x * y, 1);
    expect(q.weightData.byteLength).toBe(floatEntries.reduce((n, e) => n + size(e) * (half.includes(e.name) ? 2 : 1), 0));
    for (const e of entries) {
      if (half.includes(e.name)) expect(e.quantization, e.name).toEqual({ dtype: 'float16' });
      else expect(e.quantization, e.name).toEqual({ dtype: 'uint8', min: expect.any(Number), scale: expect.any(Number) });
    }
    // TF.js decodes both kinds in one buffer: float16 weights within 2^-11 relative, uint8 within half a step.
    const original = m.namedWeights();
    const decoded = tf.io.decodeWeights(q.weightData, entries);
    for (const e of entries) {
      const want = original[e.name].dataSync();
      const got = decoded[e.name].dataSync();
      const bound = (v: number) => (e.quantization!.dtype === 'float16' ? Math.abs(v) * 2 ** -11 + 1e-7 : e.quantization!.scale! / 2 + 1e-6);
      want.forEach((v, i) => expect(Math.abs(got[i] - v), `${e.name}[${i}]`).toBeLessThanOrEqual(bound(v)));
    }
    // dequantizeArtifacts gives exactly what TF.js decoded.
    const back = dequantizeArtifacts(q);
    expect(back.weightData.byteLength).toBe(a.weightData.byteLength);
    const fromBack = tf.io.decodeWeights(back.weightData, entriesOf(back.modelJson));
    for (const e of entries) expect(Array.from(fromBack[e.name].dataSync()), e.name).toEqual(Array.from(decoded[e.name].dataSync()));
    expect(() => quantizeArtifacts(a, '/m/', { float16: ['gru/kernal'] })).toThrow(/\/m\/model\.json: no weight named gru\/kernal/);
    tf.dispose([...Object.values(decoded), ...Object.values(fromBack)]);
    m.dispose();
  });

  it('loads a mixed model that decodes closer to the float one than all-uint8, and checks its byte count', async () => {
    const m = model();
    const a = await encodeModelArtifacts(m, { vocab, features });
    const names = entriesOf(a.modelJson).map((e) => e.name);
    const float = trainedModelFromArtifacts(a, 'float');
    const mixedArtifacts = quantizeArtifacts(a, '', { float16: names.filter((n) => n !== 'fc2/kernel') });
    const mixed = trainedModelFromArtifacts(mixedArtifacts, 'mixed');
    const uint8 = trainedModelFromArtifacts(quantizeArtifacts(a), 'uint8');
    expect(mixed.quantized).toBe(true);
    const x = tf.randomNormal([3, 4, 6], 0, 1, 'float32', 7) as tf.Tensor3D;
    const opts = { startId: 2, endId: 3, maxLength: 5 };
    const f = greedyDecode(float.model, x, opts);
    const mx = greedyDecode(mixed.model, x, opts);
    const u = greedyDecode(uint8.model, x, opts);
    const gap = (r: typeof f) => r.reduce((n, d, i) => n + Math.abs(d.logProb - f[i].logProb), 0);
    mx.forEach((r, i) => expect(r.tokens, `image ${i}`).toEqual(f[i].tokens));
    expect(gap(mx)).toBeLessThan(gap(u));
    const cut = { ...mixedArtifacts, weightData: mixedArtifacts.weightData.slice(0, mixedArtifacts.weightData.byteLength - 2) };
    expect(() => trainedModelFromArtifacts(cut, '/models/x')).toThrow(/\/models\/x\/weights\.bin: has \d+ bytes, model\.json describes \d+/);
    for (const t of [float, mixed, uint8]) t.model.dispose();
    x.dispose();
    m.dispose();
  });

  it('measures each tensor uint8 step against its std, and the float16 rule picks biases and coarse tensors', async () => {
    const m = model();
    const a = await encodeModelArtifacts(m, { vocab, features });
    const stats = quantizationStats(a);
    expect(stats.map((s) => s.name)).toEqual(entriesOf(a.modelJson).map((e) => e.name));
    const original = m.namedWeights();
    for (const s of stats) {
      const v = Array.from(original[s.name].dataSync());
      const mean = v.reduce((x, y) => x + y, 0) / v.length;
      const std = Math.sqrt(v.reduce((x, y) => x + (y - mean) ** 2, 0) / v.length);
      expect(s.std, s.name).toBeCloseTo(std, 6);
      expect(s.step, s.name).toBeCloseTo((Math.max(...v) - Math.min(...v)) / 255, 6);
      expect(s.stepOverStd, s.name).toBeCloseTo(s.step / std, 6);
      expect(s.maxError, s.name).toBeLessThanOrEqual(s.step / 2 + 1e-6);
      expect(s.rmsErrorOverStd * std, s.name).toBeLessThanOrEqual(s.step / 2 + 1e-6);
      expect(s.float16MaxErrorOverStd * std, s.name).toBeLessThanOrEqual(Math.max(...v.map(Math.abs)) * 2 ** -11 + 1e-7);
    }
    const coarse = stats.filter((s) => !/bias$/.test(s.name)).sort((x, y) => y.stepOverStd - x.stepOverStd)[0];
    const picked = float16ByRule(stats, coarse.stepOverStd - 1e-9);
    expect(picked).toContain(coarse.name);
    expect(picked.filter((n) => !/bias$/.test(n))).toEqual([coarse.name]);
    expect(picked).toEqual(expect.arrayContaining(stats.filter((s) => /(^|\/)bias$/.test(s.name)).map((s) => s.name)));
    expect(float16ByRule(stats, Infinity).every((n) => n.endsWith('bias'))).toBe(true);
    m.dispose();
  });

  it('writes a mixed folder that the model.json contract accepts and loadTrainedModel loads from disk', async () => {
    const m = model();
    const a = await encodeModelArtifacts(m, { vocab, features });
    const q = quantizeArtifacts(a, '', { float16: ['embedding/embeddings', 'fc2/bias'] });
    const dir = mkdtempSync(join(tmpdir(), 'mixed-model-'));
    try {
      const files = { 'model.json': q.modelJson, 'vocab.json': q.vocab, 'features.json': q.features, 'config.json': q.config };
      for (const [name, v] of Object.entries(files)) writeFileSync(join(dir, name), JSON.stringify(v));
      writeFileSync(join(dir, 'weights.bin'), new Uint8Array(q.weightData));
      const loaded = await loadTrainedModel(dir);
      expect(loaded.quantized).toBe(true);
      const want = trainedModelFromArtifacts(q, 'memory').model.namedWeights();
      const held = loaded.model.namedWeights();
      for (const name of Object.keys(want)) expect(Array.from(held[name].dataSync()), name).toEqual(Array.from(want[name].dataSync()));
      // A uint8 entry without its min/scale is refused by name.
      const broken = JSON.parse(JSON.stringify(q.modelJson)) as Entries;
      const uint8 = broken.weightsManifest[0].weights.find((e) => e.quantization?.dtype === 'uint8')!;
      delete uint8.quantization!.min;
      writeFileSync(join(dir, 'model.json'), JSON.stringify(broken));
      await expect(loadTrainedModel(dir)).rejects.toThrow(/model\.json: field "weightsManifest\[0\]\.weights\[\d+\]\.quantization\.min"/);
      loaded.model.dispose();
    } finally {
      rmSync(dir, { recursive: true, force: true });
      m.dispose();
    }
  });
});
