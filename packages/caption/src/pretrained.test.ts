/** The committed pretrained model: its size budget, format, provenance files and measured scores. */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { initBackend } from '@captioner/tf';
import { isQuantized } from './quantize.js';
import { loadTrainedModel, PRETRAINED_MODEL_DIR, readModelArtifacts } from './node.js';

const dir = PRETRAINED_MODEL_DIR;
const TFLITE = new URL('../../featurize/models/mobilenet_v2/mobilenet_v2_1.0_224_quant.tflite', import.meta.url).pathname;

describe('the shipped pretrained captioner', () => {
  it('fits in 8 MiB, with uint8 / float16 weights, a model card and its scores', () => {
    const files = readdirSync(dir);
    expect(files.sort()).toEqual(['MODEL_CARD.md', 'config.json', 'features.json', 'model.json', 'scores.json', 'vocab.json', 'weights.bin']);
    const bytes = files.reduce((n, f) => n + statSync(join(dir, f)).size, 0);
    expect(bytes).toBeLessThanOrEqual(8 * 2 ** 20);
    // The budget is "≤ 8 MB in all" for a quantized TF.js model: every weight uint8 or float16.
    const { modelJson } = readModelArtifacts(dir);
    expect(isQuantized(modelJson)).toBe(true);
    const entries = (modelJson as { weightsManifest: { weights: { name: string; quantization?: { dtype: string } }[] }[] }).weightsManifest[0].weights;
    for (const e of entries) expect(['uint8', 'float16'], e.name).toContain(e.quantization?.dtype);
    const card = readFileSync(join(dir, 'MODEL_CARD.md'), 'utf8');
    expect(card).toMatch(/Apache License 2\.0/);
    expect(card).toMatch(/non-commercial/);
    // Measured by tools/ship-model.ts: quantized within 0.5 points of float on BLEU-4 and CIDEr-D.
    const scores = JSON.parse(readFileSync(join(dir, 'scores.json'), 'utf8'));
    // scores.json names the float16 weights: the ones model.json stores as float16, listed in the card.
    const float16 = entries.filter((e) => e.quantization?.dtype === 'float16').map((e) => e.name);
    expect([...(scores.float16 ?? [])].sort()).toEqual([...float16].sort());
    for (const name of float16) expect(card).toContain(`\`${name}\``);
    expect(scores.split).toBe('test');
    for (const m of ['greedy', 'beam']) for (const k of ['BLEU-4', 'CIDEr-D']) expect(Math.abs(scores.float[m][k] - scores.quantized[m][k]), `${m} ${k}`).toBeLessThanOrEqual(0.5);
  });

  it('was trained on the MobileNetV2 features the bundled .tflite reproduces, and loads', async () => {
    const features = JSON.parse(readFileSync(join(dir, 'features.json'), 'utf8'));
    expect(features).toMatchObject({ backbone: 'mobilenet_v2', layer: 'Conv_1', dim: 1280, locations: 49, grid: [7, 7], inputSize: 224, weights: null });
    expect(existsSync(TFLITE)).toBe(true);
    expect(features.weightsHash).toBe(createHash('sha256').update(readFileSync(TFLITE)).digest('hex'));
    await initBackend({ backend: 'cpu', quiet: true });
    const trained = await loadTrainedModel(dir);
    expect(trained.quantized).toBe(true);
    expect(trained.model.config.featureDim).toBe(1280);
    trained.model.dispose();
  });
});
