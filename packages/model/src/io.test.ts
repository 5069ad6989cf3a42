import { mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tf, initBackend } from '@captioner/tf';
import { CaptionerError } from '@captioner/core';
import { CaptionModel, greedyDecode, MODEL_FILES, type CaptionModelConfig } from './index.js';

beforeAll(async () => {
  try {
    await initBackend({ backend: 'wasm', threads: 1, quiet: true });
  } catch {
    await initBackend({ backend: 'cpu', quiet: true });
  }
});

const root = mkdtempSync(join(tmpdir(), 'captioner-model-io-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const config: CaptionModelConfig = { vocabSize: 8, locations: 4, featureDim: 6, embeddingDim: 5, units: 7, attentionUnits: 3 };
const vocab = {
  numWords: 7,
  vocabSize: 8,
  oovToken: '<unk>',
  padToken: '<pad>',
  maxLength: 6,
  wordIndex: { '<unk>': 1, '<sos>': 2, '<eos>': 3, a: 4, dog: 5, runs: 6, grass: 7, rare: 8 },
  wordCounts: {},
};
const features = { layer: 'mixed10', scaling: '0,1', dim: 6, locations: 4, grid: [2, 2], inputSize: 299, weightsHash: 'abc', shards: [] };

async function saved(name: string) {
  const model = CaptionModel.create(config, 3);
  const dir = join(root, name);
  await model.save(dir, { vocab, features, training: { epochs: 1 } });
  return { model, dir };
}

describe('save / load', () => {
  it('round-trips to identical logits, with vocabulary, feature settings and word table', async () => {
    const { model, dir } = await saved('ok');
    expect(readdirSync(dir).sort()).toEqual([...MODEL_FILES].sort());
    expect(readdirSync(root).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    const loaded = await CaptionModel.load(dir);
    const f = tf.randomNormal([2, 4, 6], 0, 1, 'float32', 1) as tf.Tensor3D;
    const step = (m: CaptionModel) => m.step(m.encode(f), tf.tensor1d([2, 4], 'int32'), m.initialHidden(2)).logits.dataSync();
    expect(Array.from(step(loaded))).toEqual(Array.from(step(model)));
    expect(loaded.vocab.wordIndex.dog).toBe(5);
    expect(loaded.features.weightsHash).toBe('abc');
    expect(loaded.features).not.toHaveProperty('shards');
    expect(loaded.training).toEqual({ epochs: 1 });
    expect(loaded.words.slice(0, 8)).toEqual(['<pad>', '<unk>', '<sos>', '<eos>', 'a', 'dog', 'runs', 'grass']);
    const decoded = greedyDecode(loaded, f, { startId: 2, endId: 3, maxLength: 4 });
    expect(decoded[0].words).toEqual(decoded[0].tokens.map((t) => loaded.words[t]));
    // The weights file is the standard TF.js manifest format.
    const modelJson = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8'));
    expect(modelJson.weightsManifest[0].paths).toEqual(['weights.bin']);
    expect(modelJson.weightsManifest[0].weights.map((w: { name: string }) => w.name)).toEqual(model.parameterNames);
    model.dispose();
    loaded.dispose();
  });

  it('round-trips every named weight and bias exactly, and a multi-step decode, when all are non-zero and distinct', async () => {
    // A fresh model has zero biases and the first step starts from a zero state, so a save/load that
    // swapped same-shaped tensors (attention/W1/bias ↔ attention/W2/bias), dropped a bias or mixed up
    // gru/recurrent_kernel would still give identical logits. Here every element of every tensor is a
    // different non-zero value.
    let offset = 0;
    const weights: tf.NamedTensorMap = {};
    for (const [name, tensor] of Object.entries(CaptionModel.create(config, 3).namedWeights())) {
      const values = Float32Array.from({ length: tensor.size }, (_, i) => 0.05 + 0.6 * Math.sin(0.37 * (offset + i) + 1.1) + 1e-4 * (offset + i));
      offset += tensor.size;
      weights[name] = tf.tensor(values, tensor.shape);
    }
    const all = Object.values(weights).flatMap((t) => Array.from(t.dataSync()));
    expect(all.every((x) => x !== 0)).toBe(true);
    expect(new Set(all).size).toBe(all.length);
    const model = CaptionModel.fromWeights(config, weights);
    tf.dispose(Object.values(weights));
    const dir = join(root, 'distinct');
    await model.save(dir, { vocab, features, training: { epochs: 1 } });
    const loaded = await CaptionModel.load(dir);

    expect(loaded.parameterNames).toEqual(model.parameterNames);
    const before = model.namedWeights();
    const after = loaded.namedWeights();
    for (const name of model.parameterNames) {
      expect({ name, shape: after[name].shape }).toEqual({ name, shape: before[name].shape });
      expect({ name, values: Array.from(after[name].dataSync()) }).toEqual({ name, values: Array.from(before[name].dataSync()) });
    }

    // One step from a non-zero state (the recurrent kernel and both GRU bias rows all matter).
    const f = tf.randomNormal([2, 4, 6], 0, 1, 'float32', 5) as tf.Tensor3D;
    const h = tf.randomNormal([2, config.units], 0, 1, 'float32', 6) as tf.Tensor2D;
    const step = (m: CaptionModel) => {
      const out = m.step(m.encode(f), tf.tensor1d([2, 4], 'int32'), h);
      return [Array.from(out.logits.dataSync()), Array.from(out.hidden.dataSync()), Array.from(out.attention.dataSync())];
    };
    expect(step(loaded)).toEqual(step(model));

    // Several decoder steps: greedy captions and their attention maps, before and after.
    const decode = (m: CaptionModel) => greedyDecode(m, f, { startId: 2, endId: 3, maxLength: 5, words: loaded.words });
    const original = decode(model);
    const reloaded = decode(loaded);
    expect(original.map((r) => r.tokens.length).every((n) => n >= 3)).toBe(true);
    expect(reloaded.map((r) => r.tokens)).toEqual(original.map((r) => r.tokens));
    expect(reloaded.map((r) => r.attention.map((a) => Array.from(a)))).toEqual(original.map((r) => r.attention.map((a) => Array.from(a))));
    expect(reloaded.map((r) => r.logProb)).toEqual(original.map((r) => r.logProb));
    model.dispose();
    loaded.dispose();
  });

  it('names the file when the folder is incomplete or inconsistent', async () => {
    const { model, dir } = await saved('broken');
    model.dispose();
    const expectError = async (pattern: RegExp) => {
      const err = await CaptionModel.load(dir).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(CaptionerError);
      expect((err as Error).message).toMatch(pattern);
    };
    const original = readFileSync(join(dir, 'model.json'), 'utf8');

    rmSync(join(dir, 'vocab.json'));
    await expectError(/missing vocab\.json/);
    writeFileSync(join(dir, 'vocab.json'), JSON.stringify({ ...vocab, vocabSize: 9 }));
    await expectError(/vocab\.json: vocabSize 9/);
    writeFileSync(join(dir, 'vocab.json'), JSON.stringify(vocab));

    const mj = JSON.parse(original);
    mj.modelTopology.config.units = 9;
    writeFileSync(join(dir, 'model.json'), JSON.stringify(mj));
    await expectError(/model\.json: weight .* has shape/);
    writeFileSync(join(dir, 'model.json'), '{ not json');
    await expectError(/model\.json: not valid JSON/);
    writeFileSync(join(dir, 'model.json'), original);

    writeFileSync(join(dir, 'features.json'), JSON.stringify({ ...features, dim: 2048 }));
    await expectError(/features\.json: dim 2048/);
    writeFileSync(join(dir, 'features.json'), JSON.stringify(features));

    truncateSync(join(dir, 'weights.bin'), 100);
    await expectError(/weights\.bin: has 100 bytes/);
    await expect(CaptionModel.load(join(root, 'nope'))).rejects.toThrow(/model folder not found/);
  });
});
