import { describe, expect, it } from 'vitest';
import { attr, boolTensor, DataType, decodeModel, encodeModel, float16TensorFromFloat32, floatTensor, GraphBuilder, int32Tensor, int64Tensor, toHalfBits } from './index.js';

/** A 1x1x3x3 input, a 2x2 conv (stride 1, pads 0/1 end), bias, Relu, flattened by Reshape. */
function tinyConvModel(): Uint8Array {
  const g = new GraphBuilder('tiny');
  const x = g.input('x', DataType.FLOAT, ['batch', 1, 3, 3]);
  const w = g.initializer(floatTensor('w', [1, 1, 2, 2], Float32Array.of(1, -1, 2, 0.5)));
  const b = g.initializer(floatTensor('b', [1], Float32Array.of(-1)));
  const conv = g.node('Conv', [x, w, b], [attr.ints('kernel_shape', [2, 2]), attr.ints('pads', [0, 0, 1, 1])], { name: 'conv' });
  const relu = g.node('Relu', [conv]);
  const shape = g.initializer(int64Tensor('shape', [0, -1]));
  g.node('Reshape', [relu, shape], [], { output: 'y' });
  g.output('y', DataType.FLOAT, ['batch', 9]);
  return encodeModel({ graph: g.build(), producerName: 'test', metadata: { answer: '42' } });
}

/** What the conv computes: y[i,j] = relu(sum w*x over the 2x2 window, zero beyond the bottom/right edge, - 1). */
function tinyConvReference(x: Float32Array): number[] {
  const w = [1, -1, 2, 0.5];
  const at = (i: number, j: number) => (i < 3 && j < 3 ? x[i * 3 + j] : 0);
  const out: number[] = [];
  for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) out.push(Math.max(0, w[0] * at(i, j) + w[1] * at(i, j + 1) + w[2] * at(i + 1, j) + w[3] * at(i + 1, j + 1) - 1));
  return out;
}

describe('encodeModel / decodeModel', () => {
  it('round-trips graph, initializers, attributes and metadata', () => {
    const model = decodeModel(tinyConvModel());
    expect(model.ir_version).toBe(8);
    expect(model.opset_import).toEqual([{ domain: '', version: 13 }]);
    expect(model.metadata_props).toEqual([{ key: 'answer', value: '42' }]);
    expect(model.graph.node.map((n) => n.op_type)).toEqual(['Conv', 'Relu', 'Reshape']);
    expect(model.graph.node[0].attribute.find((a) => a.name === 'pads')?.ints).toEqual([0, 0, 1, 1]);
    const w = model.graph.initializer.find((t) => t.name === 'w')!;
    expect(w.dims).toEqual([1, 1, 2, 2]);
    expect([...new Float32Array(Uint8Array.from(w.raw_data!).buffer)]).toEqual([1, -1, 2, 0.5]);
    expect(model.graph.input[0].type.tensor_type.shape?.dim).toEqual([{ dim_param: 'batch' }, { dim_value: 1 }, { dim_value: 3 }, { dim_value: 3 }]);
  });

  it('runs in onnxruntime-node and computes the conv the graph describes', async () => {
    const ort = await import('onnxruntime-node');
    const session = await ort.InferenceSession.create(tinyConvModel());
    const x = Float32Array.from({ length: 18 }, (_, k) => (k % 7) - 2.5);
    const out = await session.run({ x: new ort.Tensor('float32', x, [2, 1, 3, 3]) });
    expect(out.y.dims).toEqual([2, 9]);
    const y = out.y.data as Float32Array;
    const expected = [...tinyConvReference(x.subarray(0, 9)), ...tinyConvReference(x.subarray(9))];
    expected.forEach((v, k) => expect(y[k]).toBeCloseTo(v, 5));
    expect(expected.some((v) => v > 0)).toBe(true);
    await session.release();
  });

  it('writes int32, float16 and bool tensors onnxruntime reads', async () => {
    const ort = await import('onnxruntime-node');
    const g = new GraphBuilder('types');
    const x = g.input('x', DataType.FLOAT, [3]);
    const h = g.initializer(float16TensorFromFloat32('h', [3], Float32Array.of(0.5, -2, 1000)));
    const i = g.initializer(int32Tensor('i', [3], [7, -8, 9]));
    const m = g.initializer(boolTensor('m', [3], [true, false, true]));
    const hf = g.node('Cast', [h], [attr.int('to', DataType.FLOAT)]);
    const iff = g.node('Cast', [i], [attr.int('to', DataType.FLOAT)]);
    const sum = g.node('Add', [g.node('Add', [x, hf]), iff]);
    g.node('Where', [m, sum, x], [], { output: 'y' });
    g.output('y', DataType.FLOAT, [3]);
    const session = await ort.InferenceSession.create(encodeModel({ graph: g.build() }));
    const y = (await session.run({ x: new ort.Tensor('float32', Float32Array.of(1, 2, 3), [3]) })).y.data as Float32Array;
    expect([...y]).toEqual([1 + 0.5 + 7, 2, 3 + 1000 + 9]);
    await session.release();
  });
});

describe('GraphBuilder', () => {
  it('refuses reads of undefined tensors, duplicate names and graphs without outputs', () => {
    const g = new GraphBuilder('bad');
    g.input('x', DataType.FLOAT, [1]);
    expect(() => g.node('Relu', ['nope'])).toThrow(/reads "nope", which is not defined yet/);
    expect(() => g.input('x', DataType.FLOAT, [1])).toThrow(/"x" is defined twice/);
    expect(() => g.build()).toThrow(/no outputs/);
    expect(() => g.output('missing', DataType.FLOAT)).toThrow(/output "missing" is not defined/);
  });

  it('makes fresh names unique and lets subgraphs read outer names', () => {
    const g = new GraphBuilder('names');
    const x = g.input('x', DataType.FLOAT, [1]);
    const a = g.node('Relu', [x]);
    const b = g.node('Relu', [x]);
    expect(a).toBe('Relu');
    expect(b).not.toBe(a);
    const [q, r] = g.nodeMulti('Split', [x], [attr.int('axis', 0)], 2);
    expect(q).not.toBe(r);
    const body = new GraphBuilder('body', { outerScope: [x] });
    expect(() => body.node('Identity', [x])).not.toThrow();
  });

  it('rejects non-integer int attributes and mismatched tensor sizes', () => {
    expect(() => attr.int('axis', 1.5)).toThrow(/not an integer/);
    expect(() => floatTensor('t', [2, 2], new Float32Array(3))).toThrow(/hold 4 values, got 3/);
    expect(() => int64Tensor('t', [0.5])).toThrow(/must be integers/);
  });
});

describe('toHalfBits', () => {
  it('rounds to nearest-even and handles the edges', () => {
    expect(toHalfBits(1)).toBe(0x3c00);
    expect(toHalfBits(-2)).toBe(0xc000);
    expect(toHalfBits(65504)).toBe(0x7bff);
    expect(toHalfBits(65520)).toBe(0x7c00); // rounds up to Infinity
    expect(toHalfBits(2 ** -24)).toBe(0x0001); // smallest subnormal
    expect(toHalfBits(2 ** -26)).toBe(0x0000);
    expect(toHalfBits(1 + 2 ** -11)).toBe(0x3c00); // tie → even
    expect(toHalfBits(1 + 3 * 2 ** -11)).toBe(0x3c02); // tie → even (up)
    expect(toHalfBits(NaN) & 0x7c00).toBe(0x7c00);
    expect(toHalfBits(NaN) & 0x3ff).not.toBe(0);
  });
});
