/**
 * A reader for TFLite flatbuffers (tensorflow/lite/schema/schema.fbs), hand-written over the
 * flatbuffers library's ByteBuffer for just the tables a CNN needs: Model, SubGraph, Tensor,
 * QuantizationParameters, Buffer, Operator, OperatorCode and the options of the ops listed in
 * `TFLITE_OPS`. Field slots follow schema.fbs (slot k lives at vtable offset 4 + 2k; a union takes
 * two slots, its type then its value). Browser-safe: bytes in, plain objects out.
 */
import { ByteBuffer } from 'flatbuffers';
import { ModelFormatError } from './padding.js';
import { fromFloat16Bits } from '../float16.js';

/** schema.fbs `TensorType`. */
export const TFLITE_TYPES = ['float32', 'float16', 'int32', 'uint8', 'int64', 'string', 'bool', 'int16', 'complex64', 'int8'] as const;
export type TfliteType = (typeof TFLITE_TYPES)[number] | `type${number}`;

/** schema.fbs `BuiltinOperator` codes of the ops this reader parses options for (others keep their code). */
export const TFLITE_OPS: Record<number, string> = {
  0: 'ADD',
  1: 'AVERAGE_POOL_2D',
  3: 'CONV_2D',
  4: 'DEPTHWISE_CONV_2D',
  6: 'DEQUANTIZE',
  9: 'FULLY_CONNECTED',
  14: 'LOGISTIC',
  17: 'MAX_POOL_2D',
  19: 'RELU',
  21: 'RELU6',
  22: 'RESHAPE',
  25: 'SOFTMAX',
  32: 'CUSTOM',
  114: 'QUANTIZE',
};

/** schema.fbs `ActivationFunctionType`. */
export type FusedActivation = 'NONE' | 'RELU' | 'RELU_N1_TO_1' | 'RELU6' | 'TANH' | 'SIGN_BIT';
const ACTIVATIONS: FusedActivation[] = ['NONE', 'RELU', 'RELU_N1_TO_1', 'RELU6', 'TANH', 'SIGN_BIT'];

export interface TfliteQuantization {
  /** One scale per tensor, or one per slice along `dimension` (per-channel). */
  scale: Float32Array;
  zeroPoint: number[];
  /** The axis the scales run along when there are several (schema `quantized_dimension`). */
  dimension: number;
}

export interface TfliteTensor {
  index: number;
  name: string;
  shape: number[];
  type: TfliteType;
  /** Constant data (little-endian), or null for activations. A view into the file bytes. */
  data: Uint8Array | null;
  quantization: TfliteQuantization | null;
}

export interface ConvOptions {
  padding: 'SAME' | 'VALID';
  strideH: number;
  strideW: number;
  dilationH: number;
  dilationW: number;
  activation: FusedActivation;
}
export interface DepthwiseOptions extends ConvOptions {
  depthMultiplier: number;
}
export interface PoolOptions {
  padding: 'SAME' | 'VALID';
  strideH: number;
  strideW: number;
  filterH: number;
  filterW: number;
  activation: FusedActivation;
}

export type TfliteOperator = {
  index: number;
  /** Builtin op name (e.g. CONV_2D), `BUILTIN_<code>` for ops this reader does not know, or `CUSTOM:<name>`. */
  op: string;
  inputs: number[];
  outputs: number[];
} & (
  | { op: 'CONV_2D'; options: ConvOptions }
  | { op: 'DEPTHWISE_CONV_2D'; options: DepthwiseOptions }
  | { op: 'AVERAGE_POOL_2D' | 'MAX_POOL_2D'; options: PoolOptions }
  | { op: 'ADD'; options: { activation: FusedActivation } }
  | { op: 'RESHAPE'; options: { newShape: number[] | null } }
  | { op: 'SOFTMAX'; options: { beta: number } }
  | { op: string; options: Record<string, unknown> }
);

export interface TfliteModel {
  version: number;
  description: string;
  tensors: TfliteTensor[];
  operators: TfliteOperator[];
  inputs: number[];
  outputs: number[];
  /** Human-readable origin for messages (a file path or URL). */
  origin: string;
}

/**
 * A table: its absolute position and the buffer; field readers take the schema slot. Every read
 * is bounds-checked: the flatbuffers ByteBuffer reads past the end as zeros/NaN without a word,
 * so a truncated file would otherwise parse into garbage.
 */
class Table {
  constructor(
    readonly bb: ByteBuffer,
    readonly pos: number,
  ) {
    Table.check(bb, pos, 4);
  }
  static check(bb: ByteBuffer, at: number, size: number): number {
    if (!(at >= 0 && at + size <= bb.capacity())) throw new RangeError(`read of ${size} bytes at offset ${at} is outside the ${bb.capacity()}-byte file`);
    return at;
  }
  private field(slot: number): number {
    // The vtable itself: its position and length come from the table's first word.
    const vtable = this.pos - this.bb.readInt32(this.pos);
    Table.check(this.bb, vtable, 4);
    const o = this.bb.__offset(this.pos, 4 + 2 * slot);
    if (o) Table.check(this.bb, this.pos + o, 1);
    return o;
  }
  private at(slot: number, size: number): number {
    const o = this.field(slot);
    return o ? Table.check(this.bb, this.pos + o, size) : 0;
  }
  has(slot: number): boolean {
    return this.field(slot) !== 0;
  }
  int8(slot: number, def = 0): number {
    const a = this.at(slot, 1);
    return a ? this.bb.readInt8(a) : def;
  }
  uint8(slot: number, def = 0): number {
    const a = this.at(slot, 1);
    return a ? this.bb.readUint8(a) : def;
  }
  int32(slot: number, def = 0): number {
    const a = this.at(slot, 4);
    return a ? this.bb.readInt32(a) : def;
  }
  uint32(slot: number, def = 0): number {
    const a = this.at(slot, 4);
    return a ? this.bb.readUint32(a) : def;
  }
  float32(slot: number, def = 0): number {
    const a = this.at(slot, 4);
    return a ? this.bb.readFloat32(a) : def;
  }
  string(slot: number): string {
    const v = this.vector(slot, 1);
    return v ? new TextDecoder().decode(this.bb.bytes().subarray(v[0], v[0] + v[1])) : '';
  }
  table(slot: number): Table | null {
    const a = this.at(slot, 4);
    return a ? new Table(this.bb, this.bb.__indirect(a)) : null;
  }
  /** [start, length] of a vector field (checked to lie inside the file), or null when absent. */
  private vector(slot: number, elementSize: number): [number, number] | null {
    const a = this.at(slot, 4);
    if (!a) return null;
    const start = this.bb.__vector(a);
    Table.check(this.bb, start - 4, 4); // the length word
    const length = this.bb.__vector_len(a);
    Table.check(this.bb, start, length * elementSize);
    return [start, length];
  }
  tables(slot: number): Table[] {
    const v = this.vector(slot, 4);
    if (!v) return [];
    return Array.from({ length: v[1] }, (_, i) => new Table(this.bb, this.bb.__indirect(v[0] + 4 * i)));
  }
  int32s(slot: number): number[] | null {
    const v = this.vector(slot, 4);
    return v ? Array.from({ length: v[1] }, (_, i) => this.bb.readInt32(v[0] + 4 * i)) : null;
  }
  float32s(slot: number): Float32Array | null {
    const v = this.vector(slot, 4);
    return v ? Float32Array.from({ length: v[1] }, (_, i) => this.bb.readFloat32(v[0] + 4 * i)) : null;
  }
  int64s(slot: number): number[] | null {
    const v = this.vector(slot, 8);
    return v ? Array.from({ length: v[1] }, (_, i) => Number(this.bb.readInt64(v[0] + 8 * i))) : null;
  }
  bytes(slot: number): Uint8Array | null {
    const v = this.vector(slot, 1);
    return v ? this.bb.bytes().subarray(v[0], v[0] + v[1]) : null;
  }
}

/** A TFLite file this reader cannot parse or a converter cannot handle; the message names the file. */
export class TfliteFormatError extends ModelFormatError {
  override name = 'TfliteFormatError';
}

/** Parses a TFLite flatbuffer (subgraph 0). `origin` names the file in every error. */
export function readTflite(bytes: Uint8Array, origin = 'model.tflite'): TfliteModel {
  const fail = (what: string): never => {
    throw new TfliteFormatError(`${origin}: ${what}`);
  };
  if (bytes.byteLength < 8) fail(`${bytes.byteLength} bytes is too short for a TFLite flatbuffer`);
  const bb = new ByteBuffer(bytes);
  if (!bb.__has_identifier('TFL3')) fail(`not a TFLite flatbuffer (file identifier is not "TFL3")`);
  let model: Table;
  try {
    model = new Table(bb, bb.readInt32(0));
  } catch (err) {
    return fail(`unreadable root table (${(err as Error).message})`);
  }
  try {
    return parseModel(model, origin, fail);
  } catch (err) {
    if (err instanceof TfliteFormatError) throw err;
    // Out-of-range reads on a damaged file surface as RangeErrors from the buffer.
    return fail(`damaged flatbuffer (${(err as Error).message})`);
  }
}

function parseModel(model: Table, origin: string, fail: (what: string) => never): TfliteModel {
  // Model: version 0, operator_codes 1, subgraphs 2, description 3, buffers 4.
  const version = model.uint32(0);
  if (version !== 3) fail(`schema version ${version}, this reader understands version 3`);
  const opNames = model.tables(1).map((code) => {
    // OperatorCode: deprecated_builtin_code:byte 0, custom_code 1, version 2, builtin_code:int 3.
    // Newer writers put codes > 127 only in slot 3; older ones only in slot 0: take the larger.
    const builtin = Math.max(code.int8(0), code.int32(3));
    if (builtin === 32) return `CUSTOM:${code.string(1)}`;
    return TFLITE_OPS[builtin] ?? `BUILTIN_${builtin}`;
  });
  const buffers = model.tables(4).map((b) => {
    // Buffer: data 0, offset 1 (ulong), size 2 (ulong): large models keep data outside the flatbuffer.
    if (!b.has(0) && b.has(1)) fail('buffers stored outside the flatbuffer (offset/size) are not supported');
    return b.bytes(0);
  });
  const subgraphs = model.tables(2);
  if (subgraphs.length === 0) fail('no subgraphs');
  const sg = subgraphs[0];
  // SubGraph: tensors 0, inputs 1, outputs 2, operators 3, name 4.
  const tensors: TfliteTensor[] = sg.tables(0).map((t, index) => {
    // Tensor: shape 0, type 1, buffer 2, name 3, quantization 4, is_variable 5.
    const typeCode = t.int8(1);
    const bufferIndex = t.uint32(2);
    if (bufferIndex >= buffers.length && bufferIndex !== 0) fail(`tensor ${index} refers to buffer ${bufferIndex} of ${buffers.length}`);
    const data = buffers[bufferIndex] ?? null;
    const q = t.table(4);
    let quantization: TfliteQuantization | null = null;
    if (q) {
      // QuantizationParameters: min 0, max 1, scale 2, zero_point 3, details_type 4, details 5, quantized_dimension 6.
      if (q.uint8(4) !== 0) fail(`tensor ${index} (${t.string(3)}) uses custom quantization details, which are not supported`);
      const scale = q.float32s(2);
      if (scale && scale.length > 0) {
        const zeroPoint = q.int64s(3) ?? [];
        if (zeroPoint.length !== scale.length) fail(`tensor ${index} (${t.string(3)}) has ${scale.length} scales but ${zeroPoint.length} zero points`);
        quantization = { scale, zeroPoint, dimension: q.int32(6) };
      }
    }
    return {
      index,
      name: t.string(3),
      shape: t.int32s(0) ?? [],
      type: TFLITE_TYPES[typeCode] ?? (`type${typeCode}` as TfliteType),
      data: data && data.byteLength > 0 ? data : null,
      quantization,
    };
  });
  const operators = sg.tables(3).map((o, index): TfliteOperator => {
    // Operator: opcode_index 0, inputs 1, outputs 2, builtin_options_type 3, builtin_options 4.
    const opcode = o.uint32(0);
    if (opcode >= opNames.length) fail(`operator ${index} uses opcode ${opcode} of ${opNames.length}`);
    const op = opNames[opcode];
    const inputs = o.int32s(1) ?? [];
    const outputs = o.int32s(2) ?? [];
    for (const t of [...inputs, ...outputs]) if (t >= tensors.length) fail(`operator ${index} (${op}) refers to tensor ${t} of ${tensors.length}`);
    const opts = o.table(4);
    const optsType = o.uint8(3);
    return { index, op, inputs, outputs, options: parseOptions(op, optsType, opts, (what) => fail(`operator ${index} (${op}): ${what}`)) } as TfliteOperator;
  });
  return {
    version,
    description: model.string(3),
    tensors,
    operators,
    inputs: sg.int32s(1) ?? [],
    outputs: sg.int32s(2) ?? [],
    origin,
  };
}

/** schema.fbs `BuiltinOptions` union members used here. */
const OPTIONS_TYPE = { Conv2DOptions: 1, DepthwiseConv2DOptions: 2, Pool2DOptions: 5, SoftmaxOptions: 9, AddOptions: 11, ReshapeOptions: 17 } as const;

function parseOptions(op: string, type: number, t: Table | null, fail: (what: string) => never): Record<string, unknown> {
  const expect = (wanted: number, name: string) => {
    if (t && type !== wanted) fail(`builtin options are union member ${type}, expected ${name} (${wanted})`);
  };
  const padding = (code: number) => (code === 0 ? 'SAME' : code === 1 ? 'VALID' : fail(`unknown padding ${code}`));
  const activation = (code: number) => ACTIVATIONS[code] ?? fail(`unknown fused activation ${code}`);
  switch (op) {
    case 'CONV_2D': {
      expect(OPTIONS_TYPE.Conv2DOptions, 'Conv2DOptions');
      if (!t) fail('missing Conv2DOptions');
      // Conv2DOptions: padding 0, stride_w 1, stride_h 2, fused_activation_function 3, dilation_w 4, dilation_h 5.
      return {
        padding: padding(t!.int8(0)),
        strideW: t!.int32(1),
        strideH: t!.int32(2),
        activation: activation(t!.int8(3)),
        dilationW: t!.int32(4, 1),
        dilationH: t!.int32(5, 1),
      } satisfies ConvOptions;
    }
    case 'DEPTHWISE_CONV_2D': {
      expect(OPTIONS_TYPE.DepthwiseConv2DOptions, 'DepthwiseConv2DOptions');
      if (!t) fail('missing DepthwiseConv2DOptions');
      // DepthwiseConv2DOptions: padding 0, stride_w 1, stride_h 2, depth_multiplier 3, fused 4, dilation_w 5, dilation_h 6.
      return {
        padding: padding(t!.int8(0)),
        strideW: t!.int32(1),
        strideH: t!.int32(2),
        depthMultiplier: t!.int32(3),
        activation: activation(t!.int8(4)),
        dilationW: t!.int32(5, 1),
        dilationH: t!.int32(6, 1),
      } satisfies DepthwiseOptions;
    }
    case 'AVERAGE_POOL_2D':
    case 'MAX_POOL_2D': {
      expect(OPTIONS_TYPE.Pool2DOptions, 'Pool2DOptions');
      if (!t) fail('missing Pool2DOptions');
      // Pool2DOptions: padding 0, stride_w 1, stride_h 2, filter_width 3, filter_height 4, fused 5.
      return {
        padding: padding(t!.int8(0)),
        strideW: t!.int32(1),
        strideH: t!.int32(2),
        filterW: t!.int32(3),
        filterH: t!.int32(4),
        activation: activation(t!.int8(5)),
      } satisfies PoolOptions;
    }
    case 'ADD':
      expect(OPTIONS_TYPE.AddOptions, 'AddOptions');
      // AddOptions: fused_activation_function 0.
      return { activation: t ? activation(t.int8(0)) : 'NONE' };
    case 'RESHAPE':
      expect(OPTIONS_TYPE.ReshapeOptions, 'ReshapeOptions');
      // ReshapeOptions: new_shape 0 (newer files give the shape as a second input instead).
      return { newShape: t?.int32s(0) ?? null };
    case 'SOFTMAX':
      expect(OPTIONS_TYPE.SoftmaxOptions, 'SoftmaxOptions');
      // SoftmaxOptions: beta 0.
      return { beta: t ? t.float32(0) : 1 };
    default:
      return {};
  }
}

// ---------------------------------------------------------------------------------------------
// Dequantization

const elementCount = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

/**
 * A constant tensor's values as float32. Quantized tensors (uint8/int8/int32) follow the TFLite
 * spec, real = scale * (q - zero_point), per tensor or per channel along `quantized_dimension`.
 * Float tensors are read as they are. An int32 bias of a conv carries its own scale in the file,
 * which the spec fixes to input_scale * weight_scale; see `checkBiasScale`.
 */
export function dequantize(t: TfliteTensor, origin = 'model.tflite'): Float32Array {
  const where = `${origin}: tensor ${t.index} (${t.name})`;
  if (!t.data) throw new TfliteFormatError(`${where} has no constant data`);
  const n = elementCount(t.shape);
  const view = new DataView(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  const width = { float32: 4, int32: 4, uint8: 1, int8: 1, float16: 2, int16: 2 }[t.type as string];
  if (!width) throw new TfliteFormatError(`${where}: constant type ${t.type} is not supported (float32, float16, int32, int16, uint8, int8 are)`);
  if (t.data.byteLength !== n * width) throw new TfliteFormatError(`${where}: ${t.data.byteLength} bytes for shape [${t.shape}] of ${t.type} (expected ${n * width})`);
  const raw = (k: number): number => {
    switch (t.type) {
      case 'float32':
        return view.getFloat32(4 * k, true);
      case 'int32':
        return view.getInt32(4 * k, true);
      case 'int16':
        return view.getInt16(2 * k, true);
      case 'uint8':
        return view.getUint8(k);
      case 'int8':
        return view.getInt8(k);
      default:
        return fromFloat16Bits(view.getUint16(2 * k, true));
    }
  };
  const out = new Float32Array(n);
  const q = t.quantization;
  if (t.type === 'float32' || t.type === 'float16' || !q) {
    if (!(t.type === 'float32' || t.type === 'float16')) throw new TfliteFormatError(`${where}: ${t.type} constant without quantization parameters`);
    for (let k = 0; k < n; k++) out[k] = raw(k);
    return out;
  }
  if (q.scale.length === 1) {
    const s = q.scale[0];
    const z = q.zeroPoint[0];
    for (let k = 0; k < n; k++) out[k] = (raw(k) - z) * s;
    return out;
  }
  // Per-channel: the index along `dimension` picks the scale; `inner` elements share one index.
  const axis = q.dimension;
  if (axis < 0 || axis >= t.shape.length || t.shape[axis] !== q.scale.length) {
    throw new TfliteFormatError(`${where}: ${q.scale.length} per-channel scales do not match dimension ${axis} of shape [${t.shape}]`);
  }
  const inner = elementCount(t.shape.slice(axis + 1));
  const channels = t.shape[axis];
  for (let k = 0; k < n; k++) {
    const c = Math.floor(k / inner) % channels;
    out[k] = (raw(k) - q.zeroPoint[c]) * q.scale[c];
  }
  return out;
}

/**
 * The TFLite spec fixes an int32 bias' scale to input_scale * weight_scale (per channel when the
 * weights are per-channel) with zero point 0. Returns the largest relative deviation of the file's
 * bias scales from that, so a converter can refuse a file whose bias would dequantize wrongly.
 */
export function biasScaleDeviation(bias: TfliteTensor, input: TfliteTensor, weights: TfliteTensor): number {
  const bq = bias.quantization;
  const iq = input.quantization;
  const wq = weights.quantization;
  if (!bq || !iq || !wq) return 0;
  let worst = 0;
  for (let c = 0; c < bq.scale.length; c++) {
    const expected = iq.scale[0] * (wq.scale.length === 1 ? wq.scale[0] : wq.scale[c]);
    worst = Math.max(worst, Math.abs(bq.scale[c] - expected) / expected, bq.zeroPoint[c] !== 0 ? Infinity : 0);
  }
  return worst;
}
