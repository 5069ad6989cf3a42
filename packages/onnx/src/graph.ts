/**
 * A small graph builder: named inputs, initializers and nodes in topological order, with unique
 * tensor names and early errors (a node reading a tensor nobody produced, a name used twice).
 */
import { valueInfo, type Dim, type OnnxAttribute, type OnnxGraph, type OnnxNode, type OnnxTensor, type OnnxValueInfo } from './tensor.js';

export interface NodeOptions {
  /** Node name (default: the first output's name); also the base of fresh output names. */
  name?: string;
  /** Operator domain ('' = default ONNX domain). */
  domain?: string;
  doc?: string;
}

export class GraphBuilder {
  readonly name: string;
  private readonly nodes: OnnxNode[] = [];
  private readonly initializers: OnnxTensor[] = [];
  private readonly inputs: OnnxValueInfo[] = [];
  private readonly outputs: OnnxValueInfo[] = [];
  private readonly valueInfos: OnnxValueInfo[] = [];
  /** Every tensor name defined so far (inputs, initializers, node outputs). */
  private readonly defined = new Set<string>();
  private readonly nodeNames = new Set<string>();
  private counter = 0;
  /**
   * With `outerScope`, a subgraph (If/Loop/Scan body) may read those names from the enclosing graph.
   */
  constructor(name: string, opts: { outerScope?: Iterable<string> } = {}) {
    this.name = name;
    this.outer = new Set(opts.outerScope ?? []);
  }
  private readonly outer: Set<string>;

  /** A name not used yet, derived from `base`. */
  fresh(base: string): string {
    let name = base;
    while (this.defined.has(name) || this.outer.has(name)) name = `${base}_${++this.counter}`;
    return name;
  }

  has(name: string): boolean {
    return this.defined.has(name) || this.outer.has(name);
  }

  private define(name: string, what: string): void {
    if (!name) throw new Error(`onnx graph "${this.name}": ${what} has an empty name`);
    if (this.defined.has(name)) throw new Error(`onnx graph "${this.name}": tensor "${name}" is defined twice (${what})`);
    this.defined.add(name);
  }

  input(name: string, elemType: number, dims?: readonly Dim[]): string {
    this.define(name, 'input');
    this.inputs.push(valueInfo(name, elemType, dims));
    return name;
  }

  initializer(tensor: OnnxTensor): string {
    this.define(tensor.name, 'initializer');
    this.initializers.push(tensor);
    return tensor.name;
  }

  /** Appends a single-output node; returns the output's name (opts.output, else fresh from opts.name or op). */
  node(op: string, inputs: readonly string[], attributes: OnnxAttribute[] = [], opts: NodeOptions & { output?: string } = {}): string {
    return this.nodeMulti(op, inputs, attributes, [opts.output ?? this.fresh(opts.name ?? op)], opts)[0];
  }

  /**
   * Appends a node with several outputs: `outputs` names them, or a count asks for fresh names.
   * An input '' marks an omitted optional input, as in ONNX.
   */
  nodeMulti(op: string, inputs: readonly string[], attributes: OnnxAttribute[], outputs: readonly string[] | number, opts: NodeOptions = {}): string[] {
    for (const i of inputs) {
      if (i !== '' && !this.has(i)) throw new Error(`onnx graph "${this.name}": ${op} node reads "${i}", which is not defined yet`);
    }
    const outs: string[] = [];
    if (typeof outputs === 'number') {
      for (let k = 0; k < outputs; k++) {
        const o = this.fresh(`${opts.name ?? op}_out${k}`);
        this.define(o, `output of ${op}`);
        outs.push(o);
      }
    } else {
      for (const o of outputs) {
        this.define(o, `output of ${op}`);
        outs.push(o);
      }
    }
    let name = opts.name ?? outs[0];
    while (this.nodeNames.has(name)) name = `${opts.name ?? outs[0]}_${++this.counter}`;
    this.nodeNames.add(name);
    const node: OnnxNode = { name, op_type: op, input: [...inputs], output: outs, attribute: attributes };
    if (opts.domain) node.domain = opts.domain;
    if (opts.doc) node.doc_string = opts.doc;
    this.nodes.push(node);
    return outs;
  }

  /** Declares a graph output (an already defined tensor). */
  output(name: string, elemType: number, dims?: readonly Dim[]): void {
    if (!this.has(name)) throw new Error(`onnx graph "${this.name}": output "${name}" is not defined`);
    this.outputs.push(valueInfo(name, elemType, dims));
  }

  /** Optional type/shape annotation of an intermediate tensor. */
  annotate(name: string, elemType: number, dims?: readonly Dim[]): void {
    this.valueInfos.push(valueInfo(name, elemType, dims));
  }

  get nodeCount(): number {
    return this.nodes.length;
  }

  build(doc?: string): OnnxGraph {
    if (this.outputs.length === 0) throw new Error(`onnx graph "${this.name}": no outputs declared`);
    const graph: OnnxGraph = {
      name: this.name,
      node: [...this.nodes],
      initializer: [...this.initializers],
      input: [...this.inputs],
      output: [...this.outputs],
    };
    if (this.valueInfos.length) graph.value_info = [...this.valueInfos];
    if (doc) graph.doc_string = doc;
    return graph;
  }
}
