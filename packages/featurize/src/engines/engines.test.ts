/**
 * The real backbone (nsfwjs InceptionV3) through both engines: geometry, a golden checksum on fixed
 * synthetic images (fails if the weights, the truncation or the pooling change), and ONNX vs TF.js
 * equivalence on the same batch.
 */
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '@captioner/tf';
import type { FeatureExtractor } from '../extractor.js';
import type { InceptionLayer } from './backbones.js';
import { createFeatureExtractor, createOnnxExtractor } from './index.js';
import { loadTruncatedModel } from './inception.js';
import { cachedFeatureModelPath } from './onnx-export.js';

const SIZE = 299;

/** Two deterministic test images in [0,1]: a diagonal colour ramp and a radial/checker pattern. */
function syntheticBatch(): Float32Array {
  const px = new Float32Array(2 * SIZE * SIZE * 3);
  for (let y = 0; y < SIZE; y++) {
    for (let x = 0; x < SIZE; x++) {
      const a = (y * SIZE + x) * 3;
      const b = SIZE * SIZE * 3 + a;
      px[a] = x / (SIZE - 1);
      px[a + 1] = y / (SIZE - 1);
      px[a + 2] = ((x + y) % 64) / 63;
      const r2 = ((x - 150) ** 2 + (y - 120) ** 2) / (150 * 150);
      const checker = ((x >> 4) + (y >> 4)) % 2;
      px[b] = Math.min(1, r2);
      px[b + 1] = checker;
      px[b + 2] = 1 - Math.min(1, r2) * 0.5 * (1 + checker);
    }
  }
  return px;
}

function stats(features: Float32Array, image: number, perImage: number) {
  let sum = 0;
  let sumSquares = 0;
  let nonZero = 0;
  for (let i = image * perImage; i < (image + 1) * perImage; i++) {
    sum += features[i];
    sumSquares += features[i] * features[i];
    if (features[i] !== 0) nonZero++;
  }
  return { sum, sumSquares, nonZero };
}

/**
 * Golden values, recorded with tfjs-wasm and matched by onnxruntime to ~1e-6 relative. Relative
 * tolerance 1e-4 absorbs float summation-order differences between engines/CPUs while any change
 * to the weights or the graph moves them by far more.
 */
const GOLDEN: Record<InceptionLayer, { weightsHash: string; dim: number; images: { sum: number; sumSquares: number; nonZero: number }[] }> = {
  mixed10: {
    weightsHash: 'cf2d894ee685e51b736949bc33e5ecc7beb0480d89880e15813a1ce9107fa38e',
    dim: 2048,
    images: [
      { sum: 2494.0344, sumSquares: 1092.7446, nonZero: 14187 },
      { sum: 867.72849, sumSquares: 211.15827, nonZero: 6694 },
    ],
  },
  mixed5: {
    weightsHash: '010060bfb1ba1a3173bf770f33faa1e20e73912cfa8c89dd999034bb21bda3e1',
    dim: 768,
    images: [
      { sum: 8759.1799, sumSquares: 9037.1039, nonZero: 19210 },
      { sum: 10933.332, sumSquares: 16814.592, nonZero: 16664 },
    ],
  },
};

describe.each(['mixed10', 'mixed5'] as const)('InceptionV3 %s', (layer) => {
  const cacheDir = mkdtempSync(join(tmpdir(), 'captioner-onnx-test-'));
  const pixels = syntheticBatch();
  let tfjs: FeatureExtractor;
  let onnx: FeatureExtractor;
  let tfjsOut: Float32Array;
  let onnxOut: Float32Array;

  beforeAll(async () => {
    process.env.CAPTIONER_CACHE_DIR = cacheDir;
    await initBackend({ quiet: true });
    tfjs = await createFeatureExtractor({ layer, engine: 'tfjs' });
    onnx = await createFeatureExtractor({ layer, engine: 'onnx' });
    tfjsOut = await tfjs.extract(pixels, 2);
    onnxOut = await onnx.extract(pixels, 2);
  });
  afterAll(() => {
    tfjs?.dispose();
    onnx?.dispose();
    delete process.env.CAPTIONER_CACHE_DIR;
    rmSync(cacheDir, { recursive: true, force: true });
  });

  it('reports the geometry and one weights hash for both engines', () => {
    for (const ex of [tfjs, onnx]) {
      expect(ex).toMatchObject({ inputSize: 299, grid: [8, 8], locations: 64, dim: GOLDEN[layer].dim, weightsHash: GOLDEN[layer].weightsHash });
    }
    expect(tfjs.engine).toMatch(/^tfjs \(wasm, \d+ threads?\)$/);
    expect(onnx.engine).toMatch(/^onnxruntime-node \(cpu, \d+ threads?\)$/);
    // The exported graph was cached under the weights hash.
    expect(readdirSync(join(cacheDir, 'onnx'))).toEqual([`inception-${layer}-${GOLDEN[layer].weightsHash.slice(0, 24)}-v1.onnx`]);
    expect(cachedFeatureModelPath(loadTruncatedModel({ layer }), join(cacheDir, 'onnx')).exported).toBe(false);
  });

  it('returns n x locations x dim values and matches the golden checksum', () => {
    const perImage = 64 * GOLDEN[layer].dim;
    expect(tfjsOut.length).toBe(2 * perImage);
    for (let image = 0; image < 2; image++) {
      const s = stats(tfjsOut, image, perImage);
      const golden = GOLDEN[layer].images[image];
      expect(Math.abs(s.sum - golden.sum) / golden.sum).toBeLessThan(1e-4);
      expect(Math.abs(s.sumSquares - golden.sumSquares) / golden.sumSquares).toBeLessThan(1e-4);
      // ReLU zeros are exact, so the count only moves by a few near-zero activations.
      expect(Math.abs(s.nonZero - golden.nonZero)).toBeLessThanOrEqual(Math.ceil(perImage * 1e-4));
    }
  });

  it('ONNX equals TF.js within max |diff| <= 1e-4 and relative L2 error <= 1e-5', () => {
    expect(onnxOut.length).toBe(tfjsOut.length);
    let maxDiff = 0;
    let diffSquares = 0;
    let refSquares = 0;
    for (let i = 0; i < tfjsOut.length; i++) {
      const d = onnxOut[i] - tfjsOut[i];
      maxDiff = Math.max(maxDiff, Math.abs(d));
      diffSquares += d * d;
      refSquares += tfjsOut[i] * tfjsOut[i];
    }
    expect(maxDiff).toBeLessThanOrEqual(1e-4);
    expect(Math.sqrt(diffSquares / refSquares)).toBeLessThanOrEqual(1e-5);
  });

  it('keeps images apart within a batch (batch row i = image i alone)', async () => {
    const perImage = 64 * GOLDEN[layer].dim;
    const second = await onnx.extract(pixels.subarray(SIZE * SIZE * 3), 1);
    let maxDiff = 0;
    for (let i = 0; i < perImage; i++) maxDiff = Math.max(maxDiff, Math.abs(second[i] - onnxOut[perImage + i]));
    expect(maxDiff).toBeLessThanOrEqual(1e-4);
    expect(stats(onnxOut, 0, perImage).sum).not.toBeCloseTo(stats(onnxOut, 1, perImage).sum, 0);
    await expect(onnx.extract(pixels, 3)).rejects.toThrow(/expected 3x299x299x3/);
  });

  it('auto picks onnxruntime-node where it loads (linux/mac/windows x64/arm64)', async () => {
    const auto = await createFeatureExtractor({ layer, engine: 'auto' });
    try {
      expect(auto.engine).toBe(onnx.engine);
    } finally {
      auto.dispose();
    }
  });
});

describe('the ONNX model cache', () => {
  it('re-exports a damaged cached model instead of failing', async () => {
    const cacheDir = mkdtempSync(join(tmpdir(), 'captioner-onnx-damaged-'));
    try {
      const model = loadTruncatedModel({ layer: 'mixed5' });
      const { path } = cachedFeatureModelPath(model, cacheDir);
      writeFileSync(path, 'not an onnx model');
      const ex = await createOnnxExtractor({ layer: 'mixed5', cacheDir, threads: 1 });
      try {
        expect(ex.engine).toBe('onnxruntime-node (cpu, 1 thread)');
        expect(statSync(path).size).toBeGreaterThan(1e6);
      } finally {
        ex.dispose();
      }
    } finally {
      rmSync(cacheDir, { recursive: true, force: true });
    }
  });
});
