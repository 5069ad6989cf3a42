/**
 * MobileNetV2 from a TFLite flatbuffer as a float network: the TFLite graph cut at a feature layer
 * (or run to the classifier), every constant dequantized to float32, SAME padding resolved to
 * explicit TF pads (the odd pixel at the end). The ONNX exporter and the TF.js builder both start
 * from this, so they run the same numbers.
 *
 * Activations run in float: the uint8 activation ranges of the quantized file (fake-quant
 * min/max) are not re-applied, as in the float model the file was trained from. Browser-safe:
 * bytes in (fetch them in a browser), plain arrays out.
 */
import type { MobileNetLayer } from './backbones.js';
import { ModelFormatError, tfPads } from './padding.js';
import {
  dequantize,
  readTflite,
  TfliteFormatError,
  type ConvOptions,
  type DepthwiseOptions,
  type FusedActivation,
  type TfliteModel,
  type TfliteOperator,
  type TfliteTensor,
} from './tflite.js';

/** Where to cut: a feature layer, or the whole network (`logits` before the softmax, `probabilities` after). */
export type MobileNetTarget = MobileNetLayer | 'logits' | 'probabilities';

export type FloatActivation = 'NONE' | 'RELU' | 'RELU6';

export interface FloatConv {
  kind: 'conv';
  name: string;
  input: number;
  output: number;
  depthwise: boolean;
  kernel: [number, number];
  inChannels: number;
  outChannels: number;
  /** conv: OHWI [out, kh, kw, in]; depthwise: 1HWC [1, kh, kw, out] (TFLite's layouts, as stored). */
  weights: Float32Array;
  bias: Float32Array;
  stride: [number, number];
  dilation: [number, number];
  /** Explicit pads [top, left, bottom, right]: TF SAME puts the odd pixel at the bottom/right. */
  pads: [number, number, number, number];
  activation: FloatActivation;
}
export interface FloatAdd {
  kind: 'add';
  name: string;
  inputs: [number, number];
  output: number;
  activation: FloatActivation;
}
export interface FloatAvgPool {
  kind: 'avgpool';
  name: string;
  input: number;
  output: number;
  kernel: [number, number];
  stride: [number, number];
}
/** [h, w, c] → [h*w*c] per image (the classifier's squeeze of a 1x1 grid). */
export interface FloatFlatten {
  kind: 'flatten';
  name: string;
  input: number;
  output: number;
}
export interface FloatSoftmax {
  kind: 'softmax';
  name: string;
  input: number;
  output: number;
  beta: number;
}
export type FloatNode = FloatConv | FloatAdd | FloatAvgPool | FloatFlatten | FloatSoftmax;

export interface FloatNet {
  /** What the network was cut at (a MobileNetTarget for MobileNetV2). */
  target: string;
  /** Square input side (224) and channels (3). */
  inputSize: number;
  inputChannels: number;
  /** Tensor ids (TFLite tensor indices). */
  input: number;
  output: number;
  nodes: FloatNode[];
  /** Per-image shape of every tensor the nodes produce: [h, w, c], or [n] after a flatten. */
  shapes: Map<number, number[]>;
  /** Per-image output shape: [h, w, c] for a feature layer, [classes] for logits/probabilities. */
  outputShape: number[];
  origin: string;
}

const SUPPORTED_OPS = ['CONV_2D', 'DEPTHWISE_CONV_2D', 'ADD', 'AVERAGE_POOL_2D', 'RESHAPE', 'SOFTMAX'];

/** Which TFLite tensor a target is, found by the graph's structure and checked by name and shape. */
export function findTargetTensor(model: TfliteModel, target: MobileNetTarget): number {
  const fail = (what: string): never => {
    throw new TfliteFormatError(`${model.origin}: ${what} (expected a TF-slim MobileNetV2 graph)`);
  };
  const producer = new Map<number, TfliteOperator>();
  for (const op of model.operators) for (const t of op.outputs) producer.set(t, op);
  const pool = model.operators.find((op) => op.op === 'AVERAGE_POOL_2D');
  const conv1 = pool?.inputs[0];
  const tensor = (i: number | undefined): TfliteTensor | undefined => (i === undefined ? undefined : model.tensors[i]);
  switch (target) {
    case 'Conv_1': {
      const t = tensor(conv1) ?? fail('no AVERAGE_POOL_2D, so no Conv_1 grid before it');
      if (!/(^|\/)Conv_1\//.test(t.name)) fail(`the average pool reads tensor "${t.name}", not Conv_1`);
      return t.index;
    }
    case 'expanded_conv_16': {
      const conv = producer.get(conv1 ?? -1) ?? fail('Conv_1 has no producing operator');
      const t = tensor(conv.inputs[0])!;
      if (!/(^|\/)expanded_conv_16\/project\//.test(t.name)) fail(`Conv_1 reads tensor "${t.name}", not expanded_conv_16/project`);
      return t.index;
    }
    case 'logits': {
      const softmax = model.operators.find((op) => op.op === 'SOFTMAX') ?? fail('no SOFTMAX');
      return softmax.inputs[0];
    }
    case 'probabilities':
      if (model.outputs.length !== 1) fail(`${model.outputs.length} graph outputs, expected 1`);
      return model.outputs[0];
  }
}

/** Reads a TFLite MobileNetV2 and cuts it at `target`. */
export function mobileNetFromTflite(bytes: Uint8Array, target: MobileNetTarget, origin = 'mobilenet_v2.tflite'): FloatNet {
  return floatNetFromTflite(readTflite(bytes, origin), target);
}

export function floatNetFromTflite(model: TfliteModel, target: MobileNetTarget): FloatNet {
  const input = model.tensors[model.inputs[0] ?? -1];
  if (model.inputs.length !== 1 || input?.shape.length !== 4 || input.shape[3] !== 3) {
    throw new TfliteFormatError(`${model.origin}: the graph input must be one RGB image [1, S, S, 3], got ${model.inputs.map((i) => `[${model.tensors[i]?.shape}]`).join(', ')}`);
  }
  return floatNetToTensor(model, findTargetTensor(model, target), target);
}

/**
 * The float network from the graph input to tensor `output` (any CNN made of the supported ops);
 * `target` labels it (names the export, goes into messages).
 */
export function floatNetToTensor(model: TfliteModel, output: number, target: string): FloatNet {
  const origin = model.origin;
  const fail = (what: string): never => {
    throw new TfliteFormatError(`${origin}: ${what}`);
  };
  if (model.inputs.length !== 1) fail(`${model.inputs.length} graph inputs, expected 1 image`);
  const input = model.tensors[model.inputs[0]];
  const [batch, height, width, channels] = input.shape;
  if (input.shape.length !== 4 || batch !== 1 || height !== width) fail(`input "${input.name}" has shape [${input.shape}], expected [1, S, S, C]`);
  if (!(output >= 0 && output < model.tensors.length)) fail(`no tensor ${output}`);

  // Keep the operators `output` depends on (in file order, which is execution order).
  const producer = new Map<number, TfliteOperator>();
  for (const op of model.operators) for (const t of op.outputs) producer.set(t, op);
  const needed = new Set<number>();
  const stack = [output];
  while (stack.length) {
    const t = stack.pop()!;
    const op = producer.get(t);
    if (!op || needed.has(op.index)) continue;
    needed.add(op.index);
    for (const i of op.inputs) if (i >= 0 && !model.tensors[i].data) stack.push(i);
  }
  const ops = model.operators.filter((op) => needed.has(op.index));

  const shapes = new Map<number, number[]>([[input.index, [height, width, channels]]]);
  const shapeOf = (t: number, op: TfliteOperator): number[] =>
    shapes.get(t) ?? fail(`operator ${op.index} (${op.op}) reads tensor ${t} (${model.tensors[t]?.name}), which nothing before it produces`);
  const nodes: FloatNode[] = [];
  for (const op of ops) {
    const where = `operator ${op.index} (${op.op})`;
    const out = op.outputs[0];
    const name = model.tensors[out].name.split(';')[0];
    let shape: number[];
    switch (op.op) {
      case 'CONV_2D':
      case 'DEPTHWISE_CONV_2D': {
        const node = convNode(model, op, shapeOf(op.inputs[0], op), name, where);
        nodes.push(node);
        const [ih, iw] = shapeOf(op.inputs[0], op);
        const o = op.options as { padding: string; strideH: number; strideW: number; dilationH: number; dilationW: number };
        const ph = tfPads(o.padding, ih, node.kernel[0], o.strideH, o.dilationH);
        const pw = tfPads(o.padding, iw, node.kernel[1], o.strideW, o.dilationW);
        shape = [ph.out, pw.out, node.outChannels];
        break;
      }
      case 'ADD': {
        const [a, b] = op.inputs;
        const sa = shapeOf(a, op);
        const sb = shapeOf(b, op);
        if (sa.join() !== sb.join()) fail(`${where}: adds [${sa}] and [${sb}] (broadcasting is not supported)`);
        nodes.push({ kind: 'add', name, inputs: [a, b], output: out, activation: activation(op.options.activation as FusedActivation, where, fail) });
        shape = sa;
        break;
      }
      case 'AVERAGE_POOL_2D': {
        const o = op.options as { padding: string; strideH: number; strideW: number; filterH: number; filterW: number; activation: FusedActivation };
        const [ih, iw, c] = shapeOf(op.inputs[0], op);
        // The classifier's pool covers the whole grid: 'valid' with the grid's size (no padding to count).
        if (o.padding !== 'VALID') fail(`${where}: only VALID average pooling is supported`);
        if (o.activation !== 'NONE') fail(`${where}: fused ${o.activation} after pooling is not supported`);
        const ph = tfPads('valid', ih, o.filterH, o.strideH);
        const pw = tfPads('valid', iw, o.filterW, o.strideW);
        nodes.push({ kind: 'avgpool', name, input: op.inputs[0], output: out, kernel: [o.filterH, o.filterW], stride: [o.strideH, o.strideW] });
        shape = [ph.out, pw.out, c];
        break;
      }
      case 'RESHAPE': {
        const s = shapeOf(op.inputs[0], op);
        const target = model.tensors[out].shape;
        const size = s.reduce((x, y) => x * y, 1);
        // Only the classifier's squeeze ([1, 1, 1, C] → [1, C]) is needed, and supported.
        if (!(target.length === 2 && target[0] === 1 && target[1] === size && s.length === 3 && s[0] === 1 && s[1] === 1)) {
          fail(`${where}: reshape [${s}] → [${target}] is not supported (only [1, 1, C] → [C] per image)`);
        }
        nodes.push({ kind: 'flatten', name, input: op.inputs[0], output: out });
        shape = [size];
        break;
      }
      case 'SOFTMAX': {
        const s = shapeOf(op.inputs[0], op);
        if (s.length !== 1) fail(`${where}: softmax over [${s}] is not supported (only over a flat vector)`);
        nodes.push({ kind: 'softmax', name, input: op.inputs[0], output: out, beta: op.options.beta as number });
        shape = s;
        break;
      }
      default:
        return fail(`${where}: the MobileNetV2 converter does not support ${op.op} (supported: ${SUPPORTED_OPS.join(', ')})`);
    }
    // The file's own shape for the tensor (batch 1) must agree with what we computed.
    const declared = model.tensors[out].shape;
    const perImage = declared.length === shape.length + 1 ? declared.slice(1) : declared;
    if (perImage.join() !== shape.join()) fail(`${where}: computed output shape [${shape}], the file declares [${declared}]`);
    shapes.set(out, shape);
  }
  if (!shapes.has(output)) fail(`no operator produces the ${target} tensor`);
  return { target, inputSize: height, inputChannels: channels, input: input.index, output, nodes, shapes, outputShape: shapes.get(output)!, origin };
}

function activation(a: FusedActivation, where: string, fail: (what: string) => never): FloatActivation {
  if (a === 'NONE' || a === 'RELU' || a === 'RELU6') return a;
  return fail(`${where}: fused activation ${a} is not supported (NONE, RELU, RELU6 are)`);
}

function convNode(model: TfliteModel, op: TfliteOperator, inShape: number[], name: string, where: string): FloatConv {
  const fail = (what: string): never => {
    throw new TfliteFormatError(`${model.origin}: ${where}: ${what}`);
  };
  const depthwise = op.op === 'DEPTHWISE_CONV_2D';
  // The reader's conv options; depthMultiplier only on DEPTHWISE_CONV_2D.
  const o = op.options as ConvOptions & Partial<Pick<DepthwiseOptions, 'depthMultiplier'>>;
  const [x, w, b] = op.inputs.map((i) => (i >= 0 ? model.tensors[i] : undefined));
  if (!w?.data) fail('weights are not a constant tensor');
  const weights = dequantize(w!, model.origin);
  const [ih, iw, inChannels] = inShape;
  let kh: number, kw: number, outChannels: number;
  if (depthwise) {
    // TFLite depthwise weights: [1, kh, kw, in * multiplier]; output channel c*m + k reads input channel c.
    if (w!.shape.length !== 4 || w!.shape[0] !== 1) fail(`depthwise weights have shape [${w!.shape}], expected [1, kh, kw, C]`);
    [, kh, kw, outChannels] = w!.shape;
    const multiplier = outChannels / inChannels;
    if (!Number.isInteger(multiplier) || (o.depthMultiplier && o.depthMultiplier !== multiplier)) {
      fail(`depthwise weights give ${outChannels} channels from ${inChannels} (depth_multiplier ${o.depthMultiplier})`);
    }
  } else {
    // TFLite conv weights: OHWI.
    if (w!.shape.length !== 4 || w!.shape[3] !== inChannels) fail(`weights have shape [${w!.shape}], expected [out, kh, kw, ${inChannels}]`);
    [outChannels, kh, kw] = w!.shape;
  }
  let bias: Float32Array = new Float32Array(outChannels);
  if (b) {
    if (!b.data) fail('bias is not a constant tensor');
    if (b.shape.join() !== String(outChannels)) fail(`bias has shape [${b.shape}], expected [${outChannels}]`);
    if (b.type === 'int32' && b.quantization) {
      // The TFLite spec: an int32 bias has zero point 0 and scale input_scale * weight_scale (per
      // output channel when the weights are per-channel); the kernels add it to the integer
      // accumulator under that scale, so that is the value it stands for.
      const xs = x?.quantization?.scale[0];
      const ws = w!.quantization?.scale;
      if (xs === undefined || !ws) fail('int32 bias, but the input or the weights carry no quantization scale');
      const view = new DataView(b.data!.buffer, b.data!.byteOffset, b.data!.byteLength);
      bias = Float32Array.from({ length: outChannels }, (_, c) => view.getInt32(4 * c, true) * xs! * (ws!.length === 1 ? ws![0] : ws![c]));
    } else bias = dequantize(b, model.origin);
  }
  const ph = tfPads(o.padding, ih, kh, o.strideH, o.dilationH);
  const pw = tfPads(o.padding, iw, kw, o.strideW, o.dilationW);
  return {
    kind: 'conv',
    name,
    input: op.inputs[0],
    output: op.outputs[0],
    depthwise,
    kernel: [kh, kw],
    inChannels,
    outChannels,
    weights,
    bias,
    stride: [o.strideH, o.strideW],
    dilation: [o.dilationH, o.dilationW],
    pads: [ph.begin, pw.begin, ph.end, pw.end],
    activation: activation(o.activation, where, fail),
  };
}

export { ModelFormatError };
