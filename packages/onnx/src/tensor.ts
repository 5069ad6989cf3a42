/**
 * ONNX value types, attributes and initializer tensors as plain objects shaped like the protobuf
 * messages (snake_case fields, as onnx.proto names them), with helpers that fill them correctly.
 */

/** TensorProto.DataType (onnx.proto). */
export const DataType = {
  FLOAT: 1,
  UINT8: 2,
  INT8: 3,
  UINT16: 4,
  INT16: 5,
  INT32: 6,
  INT64: 7,
  STRING: 8,
  BOOL: 9,
  FLOAT16: 10,
  DOUBLE: 11,
  UINT32: 12,
  UINT64: 13,
} as const;
export type DataTypeCode = (typeof DataType)[keyof typeof DataType];

/** AttributeProto.AttributeType (onnx.proto). */
export const AttrType = {
  FLOAT: 1,
  INT: 2,
  STRING: 3,
  TENSOR: 4,
  GRAPH: 5,
  FLOATS: 6,
  INTS: 7,
  STRINGS: 8,
  TENSORS: 9,
  GRAPHS: 10,
} as const;

export interface OnnxTensor {
  name: string;
  dims: number[];
  data_type: number;
  /** Little-endian element bytes (ONNX's raw_data layout). */
  raw_data?: Uint8Array;
  /** Only for STRING tensors (strings cannot go in raw_data). */
  string_data?: Uint8Array[];
  doc_string?: string;
}

export interface OnnxAttribute {
  name: string;
  type: number;
  f?: number;
  i?: number;
  s?: Uint8Array;
  t?: OnnxTensor;
  g?: OnnxGraph;
  floats?: number[];
  ints?: number[];
  strings?: Uint8Array[];
  tensors?: OnnxTensor[];
  graphs?: OnnxGraph[];
  doc_string?: string;
}

export interface OnnxNode {
  name: string;
  op_type: string;
  input: string[];
  output: string[];
  attribute: OnnxAttribute[];
  /** '' = the default ONNX domain. */
  domain?: string;
  doc_string?: string;
}

/** A dimension: a fixed size, or a symbolic name such as 'batch'. */
export type Dim = number | string;

export interface OnnxValueInfo {
  name: string;
  type: { tensor_type: { elem_type: number; shape?: { dim: ({ dim_value: number } | { dim_param: string })[] } } };
  doc_string?: string;
}

export interface OnnxGraph {
  name: string;
  node: OnnxNode[];
  initializer: OnnxTensor[];
  input: OnnxValueInfo[];
  output: OnnxValueInfo[];
  value_info?: OnnxValueInfo[];
  doc_string?: string;
}

// ---------------------------------------------------------------------------------------------
// Attributes

const utf8 = new TextEncoder();

export const attr = {
  int: (name: string, value: number): OnnxAttribute => {
    if (!Number.isSafeInteger(value)) throw new Error(`onnx attribute "${name}": ${value} is not an integer`);
    return { name, type: AttrType.INT, i: value };
  },
  ints: (name: string, values: readonly number[]): OnnxAttribute => {
    if (!values.every(Number.isSafeInteger)) throw new Error(`onnx attribute "${name}": ${JSON.stringify(values)} are not all integers`);
    return { name, type: AttrType.INTS, ints: [...values] };
  },
  float: (name: string, value: number): OnnxAttribute => ({ name, type: AttrType.FLOAT, f: value }),
  floats: (name: string, values: readonly number[]): OnnxAttribute => ({ name, type: AttrType.FLOATS, floats: [...values] }),
  string: (name: string, value: string): OnnxAttribute => ({ name, type: AttrType.STRING, s: utf8.encode(value) }),
  strings: (name: string, values: readonly string[]): OnnxAttribute => ({ name, type: AttrType.STRINGS, strings: values.map((v) => utf8.encode(v)) }),
  tensor: (name: string, value: OnnxTensor): OnnxAttribute => ({ name, type: AttrType.TENSOR, t: value }),
  tensors: (name: string, values: OnnxTensor[]): OnnxAttribute => ({ name, type: AttrType.TENSORS, tensors: values }),
  /** A subgraph (If/Loop/Scan bodies). */
  graph: (name: string, value: OnnxGraph): OnnxAttribute => ({ name, type: AttrType.GRAPH, g: value }),
  graphs: (name: string, values: OnnxGraph[]): OnnxAttribute => ({ name, type: AttrType.GRAPHS, graphs: values }),
};

// ---------------------------------------------------------------------------------------------
// Tensors

const littleEndian = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** The little-endian bytes of a typed array (a view on little-endian hosts, a swapped copy otherwise). */
function leBytes(values: ArrayBufferView & { BYTES_PER_ELEMENT: number; length: number }): Uint8Array {
  const bytes = new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  const size = values.BYTES_PER_ELEMENT;
  if (littleEndian || size === 1) return bytes;
  const out = new Uint8Array(bytes.length);
  for (let k = 0; k < bytes.length; k += size) for (let b = 0; b < size; b++) out[k + b] = bytes[k + size - 1 - b];
  return out;
}

function checkSize(name: string, dims: readonly number[], length: number): number[] {
  if (!dims.every((d) => Number.isSafeInteger(d) && d >= 0)) throw new Error(`onnx tensor "${name}": bad dims ${JSON.stringify(dims)}`);
  const size = dims.reduce((a, b) => a * b, 1);
  if (size !== length) throw new Error(`onnx tensor "${name}": dims ${JSON.stringify(dims)} hold ${size} values, got ${length}`);
  return [...dims];
}

export function floatTensor(name: string, dims: readonly number[], values: Float32Array): OnnxTensor {
  return { name, dims: checkSize(name, dims, values.length), data_type: DataType.FLOAT, raw_data: leBytes(values) };
}

export function doubleTensor(name: string, dims: readonly number[], values: Float64Array): OnnxTensor {
  return { name, dims: checkSize(name, dims, values.length), data_type: DataType.DOUBLE, raw_data: leBytes(values) };
}

/** Float16 from IEEE binary16 bit patterns. */
export function float16Tensor(name: string, dims: readonly number[], bits: Uint16Array): OnnxTensor {
  return { name, dims: checkSize(name, dims, bits.length), data_type: DataType.FLOAT16, raw_data: leBytes(bits) };
}

/** Float16 from float32 values, rounded to nearest-even. */
export function float16TensorFromFloat32(name: string, dims: readonly number[], values: Float32Array): OnnxTensor {
  const bits = new Uint16Array(values.length);
  for (let k = 0; k < values.length; k++) bits[k] = toHalfBits(values[k]);
  return float16Tensor(name, dims, bits);
}

export function int32Tensor(name: string, dims: readonly number[], values: Int32Array | readonly number[]): OnnxTensor {
  const data = values instanceof Int32Array ? values : Int32Array.from(values);
  return { name, dims: checkSize(name, dims, data.length), data_type: DataType.INT32, raw_data: leBytes(data) };
}

/** Int64 from numbers (must be safe integers) or a BigInt64Array. A 1-D tensor when dims is omitted. */
export function int64Tensor(name: string, values: BigInt64Array | readonly number[], dims?: readonly number[]): OnnxTensor {
  let data: BigInt64Array;
  if (values instanceof BigInt64Array) data = values;
  else {
    if (!values.every(Number.isSafeInteger)) throw new Error(`onnx tensor "${name}": int64 values must be integers`);
    data = BigInt64Array.from(values, (v) => BigInt(v));
  }
  return { name, dims: checkSize(name, dims ?? [data.length], data.length), data_type: DataType.INT64, raw_data: leBytes(data) };
}

export function uint8Tensor(name: string, dims: readonly number[], values: Uint8Array): OnnxTensor {
  return { name, dims: checkSize(name, dims, values.length), data_type: DataType.UINT8, raw_data: values };
}

export function int8Tensor(name: string, dims: readonly number[], values: Int8Array): OnnxTensor {
  return { name, dims: checkSize(name, dims, values.length), data_type: DataType.INT8, raw_data: leBytes(values) };
}

export function boolTensor(name: string, dims: readonly number[], values: readonly boolean[] | Uint8Array): OnnxTensor {
  const data = values instanceof Uint8Array ? values.map((v) => (v ? 1 : 0)) : Uint8Array.from(values, (v) => (v ? 1 : 0));
  return { name, dims: checkSize(name, dims, data.length), data_type: DataType.BOOL, raw_data: data };
}

/** A scalar (rank-0) tensor: float32, or int64 with `{ int64: true }`. */
export function scalarTensor(name: string, value: number, opts: { int64?: boolean } = {}): OnnxTensor {
  return opts.int64 ? int64Tensor(name, [value], []) : floatTensor(name, [], Float32Array.of(value));
}

/** Float32 → IEEE binary16 bits, round to nearest-even; overflow → ±Infinity, NaN kept. */
export function toHalfBits(value: number): number {
  const f32 = new Float32Array(1);
  const u32 = new Uint32Array(f32.buffer);
  f32[0] = value;
  const x = u32[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  const mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    // Subnormal: shift the mantissa with its implicit bit, rounding to nearest-even.
    const m = mant | 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    let r = m >>> shift;
    const rest = m & ((1 << shift) - 1);
    if (rest > half || (rest === half && r & 1)) r++;
    return sign | r;
  }
  let r = (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && r & 1)) r++; // may carry into the exponent: still correct (up to Infinity)
  return sign | r;
}

/** A value-info entry (graph input/output/intermediate) for a tensor of `elemType` and shape `dims`. */
export function valueInfo(name: string, elemType: number, dims?: readonly Dim[]): OnnxValueInfo {
  const tensor_type: OnnxValueInfo['type']['tensor_type'] = { elem_type: elemType };
  if (dims) tensor_type.shape = { dim: dims.map((d) => (typeof d === 'string' ? { dim_param: d } : { dim_value: d })) };
  return { name, type: { tensor_type } };
}
