/**
 * The bundled ImageNet MobileNetV2 (models/mobilenet_v2): the file reads as the expected graph,
 * the full network classifies the committed sample's dog photos as dog breeds, and the ONNX and
 * TF.js engines compute the same feature grid.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as ort from 'onnxruntime-node';
import { workspaceRoot } from '@captioner/core/node';
import { initBackend } from '@captioner/tf';
import type { FeatureExtractor } from '../extractor.js';
import { preprocessImage } from '../preprocess.js';
import { createOnnxExtractor, createTfjsExtractor } from './index.js';
import { BUNDLED_MOBILENET_TFLITE, loadMobileNet, mobileNetLabels } from './mobilenet-load.js';
import { mobileNetToOnnx } from './mobilenet-onnx.js';
import { biasScaleDeviation, readTflite } from './tflite.js';

const SAMPLE = join(workspaceRoot(), 'data/sample');

/** Sample images all of whose captions say "dog" (found from captions.txt, not hard-coded). */
function dogImages(): string[] {
  const rows = readFileSync(join(SAMPLE, 'captions.txt'), 'utf8').split('\n').slice(1).filter(Boolean);
  const byImage = new Map<string, string[]>();
  for (const row of rows) {
    const comma = row.indexOf(',');
    const image = row.slice(0, comma);
    byImage.set(image, [...(byImage.get(image) ?? []), row.slice(comma + 1)]);
  }
  return [...byImage].filter(([, captions]) => captions.length >= 5 && captions.every((c) => /\bdogs?\b/i.test(c))).map(([image]) => image);
}

async function pixelsOf(images: string[]): Promise<Float32Array> {
  const size = 224 * 224 * 3;
  const out = new Float32Array(images.length * size);
  await Promise.all(images.map((image, k) => preprocessImage(join(SAMPLE, 'Images', image), { inputSize: 224, scaling: '-1,1' }, out, k * size)));
  return out;
}

describe('bundled MobileNetV2 TFLite file', () => {
  const model = readTflite(new Uint8Array(readFileSync(BUNDLED_MOBILENET_TFLITE)), BUNDLED_MOBILENET_TFLITE);

  it('is the uint8 MobileNetV2 graph the converter expects', () => {
    const ops = model.operators.map((o) => o.op);
    expect(new Set(ops)).toEqual(new Set(['CONV_2D', 'DEPTHWISE_CONV_2D', 'ADD', 'AVERAGE_POOL_2D', 'RESHAPE', 'SOFTMAX']));
    expect(ops.filter((o) => o === 'ADD').length).toBe(10); // the residual connections
    expect(model.tensors[model.inputs[0]]).toMatchObject({ shape: [1, 224, 224, 3], type: 'uint8' });
    expect(model.tensors[model.outputs[0]].shape).toEqual([1, 1001]);
  });

  it("records int32 bias scales equal to input_scale * weight_scale (the spec's rule the converter applies)", () => {
    const convs = model.operators.filter((o) => o.op === 'CONV_2D' || o.op === 'DEPTHWISE_CONV_2D');
    expect(convs.length).toBe(53);
    for (const op of convs) {
      const [x, w, b] = op.inputs.map((i) => model.tensors[i]);
      expect(b.type).toBe('int32');
      expect(w.quantization!.scale.length).toBe(1); // per-tensor weights throughout
      expect(biasScaleDeviation(b, x, w)).toBeLessThan(1e-5);
    }
  });

  it('cuts at Conv_1 (7x7x1280 after ReLU6) and expanded_conv_16 (7x7x320)', () => {
    const conv1 = loadMobileNet({ target: 'Conv_1' }).net;
    expect(conv1.outputShape).toEqual([7, 7, 1280]);
    expect(conv1.nodes.at(-1)).toMatchObject({ kind: 'conv', activation: 'RELU6', outChannels: 1280, kernel: [1, 1] });
    const bottleneck = loadMobileNet({ target: 'expanded_conv_16' }).net;
    expect(bottleneck.outputShape).toEqual([7, 7, 320]);
    expect(bottleneck.nodes.at(-1)).toMatchObject({ kind: 'conv', activation: 'NONE', inChannels: 960, outChannels: 320 });
    // Conv_1 is exactly one 1x1 conv + ReLU6 on top of the bottleneck cut.
    expect(conv1.nodes.length).toBe(bottleneck.nodes.length + 1);
    expect(conv1.nodes.at(-1)).toMatchObject({ input: bottleneck.output });
  });
});

describe('MobileNetV2 classifies the sample dog photos as dog breeds', () => {
  it('top-5 holds a dog breed for at least 90% of the photos whose every caption says dog', async () => {
    const images = dogImages();
    expect(images.length).toBeGreaterThanOrEqual(10);
    const labels = mobileNetLabels();
    expect(labels.length).toBe(1001);
    expect(labels[0]).toBe('background');
    // ImageNet's dog breeds: Chihuahua … Mexican hairless (classes 151–268, +1 for background).
    const first = labels.indexOf('Chihuahua');
    const last = labels.findIndex((l) => l.startsWith('Mexican hairless'));
    expect([first, last]).toEqual([152, 269]);

    const { bytes } = mobileNetToOnnx(loadMobileNet({ target: 'probabilities' }).net);
    const session = await ort.InferenceSession.create(bytes);
    const probs = (await session.run({ pixels: new ort.Tensor('float32', await pixelsOf(images), [images.length, 224, 224, 3]) })).features.data as Float32Array;
    await session.release();
    let hits = 0;
    images.forEach((image, k) => {
      const p = probs.subarray(k * 1001, (k + 1) * 1001);
      expect(p.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 3);
      const top5 = [...p.keys()].sort((a, b) => p[b] - p[a]).slice(0, 5);
      if (top5.some((c) => c >= first && c <= last)) hits++;
    });
    expect(hits / images.length).toBeGreaterThanOrEqual(0.9);
  });
});

describe('MobileNetV2 engines agree', () => {
  const images = ['2157003092_eaeb977789.jpg', '3647750811_395fbd397e.jpg', '1104133405_c04a00707f.jpg'];
  let onnx: FeatureExtractor;
  let tfjs: FeatureExtractor;
  let pixels: Float32Array;
  beforeAll(async () => {
    await initBackend({ quiet: true });
    pixels = await pixelsOf(images);
    onnx = await createOnnxExtractor({ layer: 'Conv_1', threads: 1 });
    tfjs = await createTfjsExtractor({ layer: 'Conv_1' });
  });
  afterAll(() => {
    onnx?.dispose();
    tfjs?.dispose();
  });

  it('have the manifest geometry and the file hash', () => {
    for (const e of [onnx, tfjs]) {
      expect(e).toMatchObject({ inputSize: 224, grid: [7, 7], locations: 49, dim: 1280 });
      expect(e.weightsHash).toBe('7aad0c74c5e3c06e5eb3c827e13304fdd68a83da6087d92ee169c24ff9fd4776');
    }
  });

  it('ONNX and TF.js Conv_1 features differ by < 1e-3 of the activation range', async () => {
    const a = await onnx.extract(pixels, images.length);
    const b = await tfjs.extract(pixels, images.length);
    expect(a.length).toBe(images.length * 49 * 1280);
    let maxAbs = 0;
    let maxDiff = 0;
    let zeros = 0;
    for (let i = 0; i < a.length; i++) {
      maxAbs = Math.max(maxAbs, Math.abs(a[i]));
      maxDiff = Math.max(maxDiff, Math.abs(a[i] - b[i]));
      if (a[i] === 0) zeros++;
    }
    // ReLU6 outputs: the range is [0, 6] and real images reach its top.
    expect(maxAbs).toBeGreaterThan(3);
    expect(zeros).toBeGreaterThan(0);
    expect(a.every((v) => v >= 0 && v <= 6)).toBe(true);
    expect(maxDiff).toBeLessThan(1e-3 * maxAbs);
  });
});
