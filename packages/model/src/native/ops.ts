/**
 * A terse layer over @captioner/onnx's GraphBuilder for writing the model's math as ONNX nodes:
 * one method per operator, constants created once per graph. Opset 17 (Scan v16, ScatterND with
 * reduction, Split/ReduceSum/Squeeze axes as inputs).
 */
import { attr, DataType, floatTensor, GraphBuilder, int64Tensor, type Dim } from '@captioner/onnx';

export const OPSET = 17;
export const F32 = DataType.FLOAT;
export const I64 = DataType.INT64;

export class Ops {
  readonly g: GraphBuilder;
  private readonly constants = new Map<string, string>();

  /** Prefix of generated names: tensor names must be unique across a graph and its subgraphs (SSA). */
  private readonly prefix: string;

  constructor(name: string, outerScope?: Iterable<string>) {
    this.g = new GraphBuilder(name, outerScope ? { outerScope } : {});
    this.prefix = outerScope ? `${name}/` : '';
  }

  input(name: string, dims: readonly Dim[], type: number = F32): string {
    return this.g.input(name, type, dims);
  }

  output(name: string, dims?: readonly Dim[], type: number = F32): void {
    this.g.output(name, type, dims);
  }

  /** A float32 constant (scalar when dims is empty), shared by value within this graph. */
  f(value: number | readonly number[], dims: number[] = []): string {
    const values = typeof value === 'number' ? [value] : value;
    const key = `f:${dims.join('x')}:${values.join(',')}`;
    let name = this.constants.get(key);
    if (!name) {
      name = this.g.initializer(floatTensor(this.g.fresh(`${this.prefix}const_f`), dims, Float32Array.from(values)));
      this.constants.set(key, name);
    }
    return name;
  }

  /** A 1-D int64 constant (shapes, axes, split sizes). */
  i(values: readonly number[]): string {
    const key = `i:${values.join(',')}`;
    let name = this.constants.get(key);
    if (!name) {
      name = this.g.initializer(int64Tensor(this.g.fresh(`${this.prefix}const_i`), values));
      this.constants.set(key, name);
    }
    return name;
  }

  private op(type: string, inputs: string[], attrs = [] as ReturnType<typeof attr.int>[], output?: string): string {
    return this.g.node(type, inputs, attrs, output ? { output } : { name: `${this.prefix}${type}` });
  }

  identity(x: string, output?: string): string {
    return this.op('Identity', [x], [], output);
  }
  add(a: string, b: string, output?: string): string {
    return this.op('Add', [a, b], [], output);
  }
  sub(a: string, b: string): string {
    return this.op('Sub', [a, b]);
  }
  mul(a: string, b: string, output?: string): string {
    return this.op('Mul', [a, b], [], output);
  }
  sigmoid(x: string): string {
    return this.op('Sigmoid', [x]);
  }
  tanh(x: string): string {
    return this.op('Tanh', [x]);
  }
  relu(x: string): string {
    return this.op('Relu', [x]);
  }
  log(x: string): string {
    return this.op('Log', [x]);
  }
  neg(x: string): string {
    return this.op('Neg', [x]);
  }
  max(a: string, b: string): string {
    return this.op('Max', [a, b]);
  }
  matmul(a: string, b: string): string {
    return this.op('MatMul', [a, b]);
  }
  /** alpha·op(a)·op(b) + c (MLAS handles the transposes while packing: no Transpose nodes). */
  gemm(a: string, b: string, c?: string, o: { transA?: boolean; transB?: boolean } = {}, output?: string): string {
    const attrs = [];
    if (o.transA) attrs.push(attr.int('transA', 1));
    if (o.transB) attrs.push(attr.int('transB', 1));
    return this.op('Gemm', c ? [a, b, c] : [a, b], attrs, output);
  }
  reshape(x: string, shape: readonly number[] | string): string {
    return this.op('Reshape', [x, typeof shape === 'string' ? shape : this.i(shape)]);
  }
  unsqueeze(x: string, axes: number[]): string {
    return this.op('Unsqueeze', [x, this.i(axes)]);
  }
  squeeze(x: string, axes: number[]): string {
    return this.op('Squeeze', [x, this.i(axes)]);
  }
  concat(xs: string[], axis: number, output?: string): string {
    return this.op('Concat', xs, [attr.int('axis', axis)], output);
  }
  /** Split into pieces of the given sizes along axis. */
  split(x: string, sizes: number[], axis: number): string[] {
    return this.g.nodeMulti('Split', [x, this.i(sizes)], [attr.int('axis', axis)], sizes.length, { name: `${this.prefix}Split` });
  }
  slice(x: string, starts: number[], ends: number[], axes: number[]): string {
    return this.op('Slice', [x, this.i(starts), this.i(ends), this.i(axes)]);
  }
  reduceSum(x: string, axes: number[] | null, keepdims: boolean, output?: string): string {
    return this.op('ReduceSum', axes ? [x, this.i(axes)] : [x], [attr.int('keepdims', keepdims ? 1 : 0)], output);
  }
  softmax(x: string, axis: number): string {
    return this.op('Softmax', [x], [attr.int('axis', axis)]);
  }
  gather(x: string, indices: string, axis = 0): string {
    return this.op('Gather', [x, indices], [attr.int('axis', axis)]);
  }
  gatherElements(x: string, indices: string, axis: number): string {
    return this.op('GatherElements', [x, indices], [attr.int('axis', axis)]);
  }
  scatterElements(x: string, indices: string, updates: string, axis: number): string {
    return this.op('ScatterElements', [x, indices, updates], [attr.int('axis', axis)]);
  }
  scatterND(x: string, indices: string, updates: string, reduction?: 'add'): string {
    return this.op('ScatterND', [x, indices, updates], reduction ? [attr.string('reduction', reduction)] : []);
  }
  shape(x: string): string {
    return this.op('Shape', [x]);
  }
  /** Zeros of the (runtime) shape given as a 1-D int64 tensor. */
  zeros(shape: string): string {
    return this.op('ConstantOfShape', [shape], [attr.tensor('value', floatTensor('value', [1], Float32Array.of(0)))]);
  }
  greater(a: string, b: string): string {
    return this.op('Greater', [a, b]);
  }
  castFloat(x: string): string {
    return this.op('Cast', [x], [attr.int('to', F32)]);
  }
  /** Dimension `axis` of x's shape as a 1-element int64 tensor. */
  dim(x: string, axis: number): string {
    return this.slice(this.shape(x), [axis], [axis + 1], [0]);
  }
  /** A 1-D int64 shape from runtime dims (1-element tensors) and fixed numbers. */
  shapeOf(parts: (string | number)[]): string {
    return this.concat(
      parts.map((p) => (typeof p === 'number' ? this.i([p]) : p)),
      0,
    );
  }
}
