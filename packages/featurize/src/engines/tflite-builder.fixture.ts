/**
 * Test helper: writes small TFLite flatbuffers with the flatbuffers Builder (schema.fbs slots), so
 * the reader and converters can be checked on hand-made graphs whose every value is known.
 */
import { Builder } from 'flatbuffers';

export interface TensorSpec {
  name: string;
  shape: number[];
  /** schema TensorType: float32 0, int32 2, uint8 3, int8 9. */
  type: 'float32' | 'int32' | 'uint8' | 'int8';
  /** Constant values (stored as `type`), or undefined for activations. */
  data?: number[];
  quant?: { scale: number[]; zeroPoint: number[]; dimension?: number };
}

export interface OpSpec {
  /** Builtin code (schema BuiltinOperator): ADD 0, AVERAGE_POOL_2D 1, CONV_2D 3, DEPTHWISE_CONV_2D 4, LOGISTIC 14, RESHAPE 22, SOFTMAX 25. */
  code: number;
  inputs: number[];
  outputs: number[];
  /** Union member (schema BuiltinOptions) and its fields as [slot, kind, value]. */
  options?: { type: number; fields: [number, 'int8' | 'int32' | 'float32', number][] };
}

const TYPE_CODE = { float32: 0, int32: 2, uint8: 3, int8: 9 } as const;

function typedBytes(spec: TensorSpec): Uint8Array {
  const values = spec.data!;
  const view = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  switch (spec.type) {
    case 'float32':
      return view(Float32Array.from(values));
    case 'int32':
      return view(Int32Array.from(values));
    case 'uint8':
      return Uint8Array.from(values);
    case 'int8':
      return view(Int8Array.from(values));
  }
}

export function buildTflite(opts: { tensors: TensorSpec[]; ops: OpSpec[]; inputs: number[]; outputs: number[]; version?: number; identifier?: string }): Uint8Array {
  const b = new Builder(1024);
  const int32Vector = (values: number[]) => {
    b.startVector(4, values.length, 4);
    for (let i = values.length - 1; i >= 0; i--) b.addInt32(values[i]);
    return b.endVector();
  };
  const float32Vector = (values: number[]) => {
    b.startVector(4, values.length, 4);
    for (let i = values.length - 1; i >= 0; i--) b.addFloat32(values[i]);
    return b.endVector();
  };
  const int64Vector = (values: number[]) => {
    b.startVector(8, values.length, 8);
    for (let i = values.length - 1; i >= 0; i--) b.addInt64(BigInt(values[i]));
    return b.endVector();
  };
  const offsetVector = (offsets: number[]) => {
    b.startVector(4, offsets.length, 4);
    for (let i = offsets.length - 1; i >= 0; i--) b.addOffset(offsets[i]);
    return b.endVector();
  };

  // Buffers: 0 is the empty sentinel; each constant tensor gets its own.
  const bufferIndex: number[] = [];
  const bufferData: (Uint8Array | null)[] = [null];
  for (const t of opts.tensors) {
    if (t.data) {
      bufferIndex.push(bufferData.length);
      bufferData.push(typedBytes(t));
    } else bufferIndex.push(0);
  }
  const buffers = bufferData.map((data) => {
    const dataOffset = data ? b.createByteVector(data) : 0;
    b.startObject(1);
    if (data) b.addFieldOffset(0, dataOffset, 0);
    return b.endObject();
  });

  const tensors = opts.tensors.map((t, i) => {
    let quant = 0;
    if (t.quant) {
      const scale = float32Vector(t.quant.scale);
      const zp = int64Vector(t.quant.zeroPoint);
      b.startObject(7);
      b.addFieldOffset(2, scale, 0);
      b.addFieldOffset(3, zp, 0);
      b.addFieldInt32(6, t.quant.dimension ?? 0, 0);
      quant = b.endObject();
    }
    const shape = int32Vector(t.shape);
    const name = b.createString(t.name);
    b.startObject(6);
    b.addFieldOffset(0, shape, 0);
    b.addFieldInt8(1, TYPE_CODE[t.type], 0);
    b.addFieldInt32(2, bufferIndex[i], 0);
    b.addFieldOffset(3, name, 0);
    if (quant) b.addFieldOffset(4, quant, 0);
    return b.endObject();
  });

  const codes = [...new Set(opts.ops.map((o) => o.code))];
  const operatorCodes = codes.map((code) => {
    b.startObject(4);
    b.addFieldInt8(0, Math.min(code, 127), 0);
    b.addFieldInt32(2, 1, 1);
    b.addFieldInt32(3, code, 0);
    return b.endObject();
  });
  const operators = opts.ops.map((op) => {
    let options = 0;
    if (op.options) {
      b.startObject(8);
      for (const [slot, kind, value] of op.options.fields) {
        if (kind === 'int8') b.addFieldInt8(slot, value, 0);
        else if (kind === 'int32') b.addFieldInt32(slot, value, 0);
        else b.addFieldFloat32(slot, value, 0);
      }
      options = b.endObject();
    }
    const inputs = int32Vector(op.inputs);
    const outputs = int32Vector(op.outputs);
    b.startObject(8);
    b.addFieldInt32(0, codes.indexOf(op.code), 0);
    b.addFieldOffset(1, inputs, 0);
    b.addFieldOffset(2, outputs, 0);
    if (op.options) {
      b.addFieldInt8(3, op.options.type, 0);
      b.addFieldOffset(4, options, 0);
    }
    return b.endObject();
  });

  const tensorsVec = offsetVector(tensors);
  const inputsVec = int32Vector(opts.inputs);
  const outputsVec = int32Vector(opts.outputs);
  const operatorsVec = offsetVector(operators);
  const sgName = b.createString('main');
  b.startObject(5);
  b.addFieldOffset(0, tensorsVec, 0);
  b.addFieldOffset(1, inputsVec, 0);
  b.addFieldOffset(2, outputsVec, 0);
  b.addFieldOffset(3, operatorsVec, 0);
  b.addFieldOffset(4, sgName, 0);
  const subgraph = b.endObject();

  const codesVec = offsetVector(operatorCodes);
  const subgraphsVec = offsetVector([subgraph]);
  const description = b.createString('hand-made test model');
  const buffersVec = offsetVector(buffers);
  b.startObject(6);
  b.addFieldInt32(0, opts.version ?? 3, 0);
  b.addFieldOffset(1, codesVec, 0);
  b.addFieldOffset(2, subgraphsVec, 0);
  b.addFieldOffset(3, description, 0);
  b.addFieldOffset(4, buffersVec, 0);
  const model = b.endObject();
  b.finish(model, opts.identifier ?? 'TFL3');
  return b.asUint8Array().slice();
}

/** Conv2DOptions (union member 1): padding 0 (SAME 0 / VALID 1), stride_w 1, stride_h 2, fused activation 3. */
export const convOptions = (padding: 0 | 1, stride: number, activation: number) => ({
  type: 1,
  fields: [
    [0, 'int8', padding],
    [1, 'int32', stride],
    [2, 'int32', stride],
    [3, 'int8', activation],
  ] as [number, 'int8' | 'int32', number][],
});
/** DepthwiseConv2DOptions (union member 2): padding 0, stride_w 1, stride_h 2, depth_multiplier 3, fused activation 4. */
export const depthwiseOptions = (padding: 0 | 1, stride: number, activation: number) => ({
  type: 2,
  fields: [
    [0, 'int8', padding],
    [1, 'int32', stride],
    [2, 'int32', stride],
    [3, 'int32', 1],
    [4, 'int8', activation],
  ] as [number, 'int8' | 'int32', number][],
});
/** AddOptions (union member 11): fused activation 0. */
export const addOptions = (activation: number) => ({ type: 11, fields: [[0, 'int8', activation]] as [number, 'int8', number][] });
