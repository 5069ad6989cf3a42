/**
 * The TFLite reader, dequantization, TF SAME padding and both converters (ONNX, TF.js) on a
 * hand-made tiny TFLite file whose every value is known, against a plain-JS float reference.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import * as ort from 'onnxruntime-node';
import { initBackend, tf } from '@captioner/tf';
import { floatNetToTensor } from './mobilenet.js';
import { mobileNetToOnnx } from './mobilenet-onnx.js';
import { mobileNetToTfjs } from './mobilenet-tfjs.js';
import { tfPads } from './padding.js';
import { dequantize, readTflite, type TfliteModel } from './tflite.js';
import { addOptions, buildTflite, convOptions, depthwiseOptions, type OpSpec, type TensorSpec } from './tflite-builder.fixture.js';

const RELU = 1;
const RELU6 = 3;

/** A small deterministic integer sequence in [lo, hi]. */
const ints = (n: number, lo: number, hi: number, seed: number) => Array.from({ length: n }, (_, i) => lo + ((i * 7919 + seed * 104729) % (hi - lo + 1)));

// Input 6x6x2 uint8 (scale 1/128, zero point 128, like MobileNetV2's input) →
// conv 3x3 stride 2 SAME + RELU6 (uint8 per-tensor weights, int32 bias) → 3x3x3 →
// depthwise 3x3 stride 1 SAME, no activation (int8 per-channel weights along dimension 3) →
// add the conv output, RELU.
const IN_SCALE = 1 / 128;
const CONV_W = { q: ints(3 * 3 * 3 * 2, 0, 255, 1), scale: 0.05, zp: 120 };
const CONV_B = ints(3, -400, 400, 2);
const ACT_SCALE = 6 / 255;
const DW_W = { q: ints(3 * 3 * 3, -127, 127, 3), scale: [0.02, 0.03, 0.04] };
const DW_B = ints(3, -200, 200, 4);

const TENSORS: TensorSpec[] = [
  { name: 'input', shape: [1, 6, 6, 2], type: 'uint8', quant: { scale: [IN_SCALE], zeroPoint: [128] } },
  { name: 'conv/weights', shape: [3, 3, 3, 2], type: 'uint8', data: CONV_W.q, quant: { scale: [CONV_W.scale], zeroPoint: [CONV_W.zp] } },
  // A deliberately wrong recorded bias scale: the spec's input_scale * weight_scale must win.
  { name: 'conv/bias', shape: [3], type: 'int32', data: CONV_B, quant: { scale: [IN_SCALE * CONV_W.scale * 1.5], zeroPoint: [0] } },
  { name: 'conv/Relu6', shape: [1, 3, 3, 3], type: 'uint8', quant: { scale: [ACT_SCALE], zeroPoint: [0] } },
  { name: 'dw/weights', shape: [1, 3, 3, 3], type: 'int8', data: DW_W.q, quant: { scale: DW_W.scale, zeroPoint: [0, 0, 0], dimension: 3 } },
  { name: 'dw/bias', shape: [3], type: 'int32', data: DW_B, quant: { scale: DW_W.scale.map((s) => s * ACT_SCALE), zeroPoint: [0, 0, 0] } },
  { name: 'dw/out', shape: [1, 3, 3, 3], type: 'uint8', quant: { scale: [0.1], zeroPoint: [128] } },
  { name: 'add', shape: [1, 3, 3, 3], type: 'uint8', quant: { scale: [0.1], zeroPoint: [0] } },
];
const OPS: OpSpec[] = [
  { code: 3, inputs: [0, 1, 2], outputs: [3], options: convOptions(0, 2, RELU6) },
  { code: 4, inputs: [3, 4, 5], outputs: [6], options: depthwiseOptions(0, 1, 0) },
  { code: 0, inputs: [6, 3], outputs: [7], options: addOptions(RELU) },
];
const tiny = (over: Partial<Parameters<typeof buildTflite>[0]> = {}) => buildTflite({ tensors: TENSORS, ops: OPS, inputs: [0], outputs: [7], ...over });

/** Direct NHWC convolution with explicit pads [top, left, bottom, right]; weights given as w(o, y, x, i). */
function convRef(
  x: Float32Array,
  [h, w, c]: number[],
  k: number,
  stride: number,
  pads: number[],
  outC: number,
  weight: (o: number, y: number, x: number, i: number) => number,
  bias: number[],
  depthwise: boolean,
) {
  const [top, left] = pads;
  const oh = Math.floor((h + pads[0] + pads[2] - k) / stride) + 1;
  const ow = Math.floor((w + pads[1] + pads[3] - k) / stride) + 1;
  const out = new Float32Array(oh * ow * outC);
  for (let r = 0; r < oh; r++)
    for (let q = 0; q < ow; q++)
      for (let o = 0; o < outC; o++) {
        let sum = bias[o];
        for (let dy = 0; dy < k; dy++)
          for (let dx = 0; dx < k; dx++) {
            const yy = r * stride - top + dy;
            const xx = q * stride - left + dx;
            if (yy < 0 || yy >= h || xx < 0 || xx >= w) continue;
            if (depthwise) sum += weight(o, dy, dx, 0) * x[(yy * w + xx) * c + o];
            else for (let i = 0; i < c; i++) sum += weight(o, dy, dx, i) * x[(yy * w + xx) * c + i];
          }
        out[(r * ow + q) * outC + o] = sum;
      }
  return { out, shape: [oh, ow, outC] };
}

/** The tiny network in plain JS from the raw integers: the reference both converters must match. */
function reference(pixels: Float32Array): Float32Array {
  const convPads = [0, 0, 1, 1]; // 6 → 3 with a 3x3 window, stride 2: TF SAME pads 0 before, 1 after
  const conv = convRef(
    pixels,
    [6, 6, 2],
    3,
    2,
    convPads,
    3,
    (o, y, x, i) => (CONV_W.q[((o * 3 + y) * 3 + x) * 2 + i] - CONV_W.zp) * CONV_W.scale,
    CONV_B.map((b) => b * IN_SCALE * CONV_W.scale),
    false,
  );
  const a = conv.out.map((v) => Math.min(6, Math.max(0, v)));
  const dw = convRef(
    a,
    [3, 3, 3],
    3,
    1,
    [1, 1, 1, 1],
    3,
    (o, y, x) => DW_W.q[(y * 3 + x) * 3 + o] * DW_W.scale[o],
    DW_B.map((b, c) => b * ACT_SCALE * DW_W.scale[c]),
    true,
  );
  return dw.out.map((v, k) => Math.max(0, v + a[k]));
}

/** Two images of pixels in [-1, 1). */
function tinyPixels(): Float32Array {
  return Float32Array.from({ length: 2 * 6 * 6 * 2 }, (_, i) => ((i * 37) % 256) / 128 - 1);
}

describe('tfPads (TF SAME: the odd pixel goes at the end)', () => {
  it('matches hand-computed pads', () => {
    expect(tfPads('SAME', 6, 3, 2)).toEqual({ out: 3, begin: 0, end: 1 });
    expect(tfPads('SAME', 224, 3, 2)).toEqual({ out: 112, begin: 0, end: 1 });
    expect(tfPads('SAME', 7, 3, 2)).toEqual({ out: 4, begin: 1, end: 1 });
    expect(tfPads('SAME', 7, 3, 1)).toEqual({ out: 7, begin: 1, end: 1 });
    expect(tfPads('SAME', 7, 1, 1)).toEqual({ out: 7, begin: 0, end: 0 });
    expect(tfPads('VALID', 7, 7, 1)).toEqual({ out: 1, begin: 0, end: 0 });
  });
});

describe('readTflite + dequantize on a hand-made flatbuffer', () => {
  let model: TfliteModel;
  beforeAll(() => {
    model = readTflite(tiny(), 'tiny.tflite');
  });

  it('reads tensors, operators and options', () => {
    expect(model.version).toBe(3);
    expect(model.description).toBe('hand-made test model');
    expect(model.tensors.map((t) => t.name)).toEqual(TENSORS.map((t) => t.name));
    expect(model.tensors[1]).toMatchObject({ shape: [3, 3, 3, 2], type: 'uint8' });
    expect(model.tensors[3].data).toBeNull();
    expect(model.operators.map((o) => o.op)).toEqual(['CONV_2D', 'DEPTHWISE_CONV_2D', 'ADD']);
    expect(model.operators[0].options).toEqual({ padding: 'SAME', strideW: 2, strideH: 2, activation: 'RELU6', dilationW: 1, dilationH: 1 });
    expect(model.operators[1].options).toMatchObject({ depthMultiplier: 1, activation: 'NONE' });
    expect(model.operators[2].options).toEqual({ activation: 'RELU' });
    expect([model.inputs, model.outputs]).toEqual([[0], [7]]);
  });

  it('dequantizes per tensor: (q - zero_point) * scale', () => {
    const w = dequantize(model.tensors[1]);
    expect(w.length).toBe(54);
    CONV_W.q.forEach((q, k) => expect(w[k]).toBeCloseTo((q - CONV_W.zp) * CONV_W.scale, 6));
  });

  it('dequantizes per channel along quantized_dimension', () => {
    const w = dequantize(model.tensors[4]);
    DW_W.q.forEach((q, k) => expect(w[k]).toBeCloseTo(q * DW_W.scale[k % 3], 6));
    expect(model.tensors[4].quantization).toMatchObject({ dimension: 3, zeroPoint: [0, 0, 0] });
  });

  it('refuses what it cannot read, naming the file', () => {
    expect(() => readTflite(tiny({ identifier: 'XXXX' }), 'bad.tflite')).toThrow(/bad\.tflite: not a TFLite flatbuffer/);
    expect(() => readTflite(tiny({ version: 2 }), 'old.tflite')).toThrow(/old\.tflite: schema version 2/);
    expect(() => readTflite(new Uint8Array(4), 'short.tflite')).toThrow(/short\.tflite: 4 bytes is too short/);
    const damaged = tiny().slice(0, 200);
    expect(() => readTflite(damaged, 'cut.tflite')).toThrow(/cut\.tflite/);
  });
});

describe('tiny TFLite graph → ONNX and TF.js', () => {
  const pixels = tinyPixels();
  const expected = new Float32Array([...reference(pixels.subarray(0, 72)), ...reference(pixels.subarray(72))]);

  it('the reference is not trivial (some outputs clipped, most positive)', () => {
    expect(expected.filter((v) => v > 0).length).toBeGreaterThan(expected.length / 2);
  });

  it('ONNX output equals the plain-JS reference (bias at input_scale * weight_scale, SAME pads at the end)', async () => {
    const net = floatNetToTensor(readTflite(tiny(), 'tiny.tflite'), 7, 'tiny');
    expect(net.nodes.map((n) => n.kind)).toEqual(['conv', 'conv', 'add']);
    expect((net.nodes[0] as { pads: number[] }).pads).toEqual([0, 0, 1, 1]);
    expect((net.nodes[1] as { pads: number[] }).pads).toEqual([1, 1, 1, 1]);
    const { bytes, outputShape } = mobileNetToOnnx(net);
    expect(outputShape).toEqual([9, 3]);
    const session = await ort.InferenceSession.create(bytes);
    const out = (await session.run({ pixels: new ort.Tensor('float32', pixels, [2, 6, 6, 2]) })).features;
    expect(out.dims).toEqual([2, 9, 3]);
    const got = out.data as Float32Array;
    expected.forEach((v, k) => expect(got[k]).toBeCloseTo(v, 4));
    await session.release();
  });

  it('TF.js output equals the plain-JS reference', async () => {
    await initBackend({ quiet: true });
    const model = mobileNetToTfjs(floatNetToTensor(readTflite(tiny(), 'tiny.tflite'), 7, 'tiny'), tf);
    const out = model.predict(tf.tensor4d(pixels, [2, 6, 6, 2]));
    expect(out.shape).toEqual([2, 9, 3]);
    const got = (await out.data()) as Float32Array;
    out.dispose();
    model.dispose();
    expected.forEach((v, k) => expect(got[k]).toBeCloseTo(v, 4));
  });

  it('names the file and the op it does not support', () => {
    const withLogistic = tiny({ ops: [...OPS, { code: 14, inputs: [7], outputs: [8] }], tensors: [...TENSORS, { name: 'sig', shape: [1, 3, 3, 3], type: 'uint8' }], outputs: [8] });
    expect(() => floatNetToTensor(readTflite(withLogistic, 'tiny.tflite'), 8, 'tiny')).toThrow(
      /tiny\.tflite: operator 3 \(LOGISTIC\): the MobileNetV2 converter does not support LOGISTIC/,
    );
    const tanh = tiny({ ops: [OPS[0], OPS[1], { ...OPS[2], options: addOptions(4) }] });
    expect(() => floatNetToTensor(readTflite(tanh, 'tiny.tflite'), 7, 'tiny')).toThrow(/tiny\.tflite: operator 2 \(ADD\): fused activation TANH is not supported/);
    const perChannelMismatch = tiny({ tensors: TENSORS.map((t, i) => (i === 4 ? { ...t, quant: { ...t.quant!, dimension: 0 } } : t)) });
    expect(() => floatNetToTensor(readTflite(perChannelMismatch, 'tiny.tflite'), 7, 'tiny')).toThrow(
      /tiny\.tflite: tensor 4 \(dw\/weights\): 3 per-channel scales do not match dimension 0/,
    );
  });
});
