/**
 * A FloatNet (MobileNetV2 read from TFLite) → ONNX, through @captioner/onnx. Browser-safe.
 *
 * Layout as in the Keras exporter: NHWC pixels in, one transpose to NCHW, and for a feature layer
 * the grid back to [batch, H*W, C] in row-major grid order. Depthwise convolutions are grouped
 * convs (group = input channels); ReLU6 is Clip(0, 6), which onnxruntime fuses into the conv.
 */
import { attr, DataType, encodeModel, floatTensor, GraphBuilder, int64Tensor, scalarTensor } from '@captioner/onnx';
import type { FloatActivation, FloatConv, FloatNet } from './mobilenet.js';

/** Bump when this exporter's output changes, so cached .onnx files are regenerated. */
export const MOBILENET_ONNX_VERSION = 1;
export const MOBILENET_ONNX_INPUT = 'pixels';
export const MOBILENET_ONNX_OUTPUT = 'features';

export interface MobileNetOnnx {
  bytes: Uint8Array;
  /** Per-image output: [locations, channels] for a feature layer, [classes] for the classifier. */
  outputShape: number[];
  nodeCount: number;
}

/** OHWI → OIHW (conv) or 1HWC → [C, 1, kh, kw] (depthwise as a grouped conv). */
export function onnxConvWeights(node: FloatConv): { weights: Float32Array; dims: number[] } {
  const [kh, kw] = node.kernel;
  const { inChannels: ci, outChannels: co } = node;
  const src = node.weights;
  if (node.depthwise) {
    const out = new Float32Array(co * kh * kw);
    for (let y = 0; y < kh; y++) for (let x = 0; x < kw; x++) for (let c = 0; c < co; c++) out[(c * kh + y) * kw + x] = src[(y * kw + x) * co + c];
    return { weights: out, dims: [co, 1, kh, kw] };
  }
  const out = new Float32Array(co * ci * kh * kw);
  for (let o = 0; o < co; o++)
    for (let y = 0; y < kh; y++) for (let x = 0; x < kw; x++) for (let i = 0; i < ci; i++) out[((o * ci + i) * kh + y) * kw + x] = src[((o * kh + y) * kw + x) * ci + i];
  return { weights: out, dims: [co, ci, kh, kw] };
}

export function mobileNetToOnnx(net: FloatNet, metadata: Record<string, string> = {}): MobileNetOnnx {
  const g = new GraphBuilder(`mobilenet_v2_${net.target}`);
  const S = net.inputSize;
  g.input(MOBILENET_ONNX_INPUT, DataType.FLOAT, ['batch', S, S, net.inputChannels]);
  const names = new Map<number, string>([[net.input, g.node('Transpose', [MOBILENET_ONNX_INPUT], [attr.ints('perm', [0, 3, 1, 2])], { name: 'input_to_nchw' })]]);
  const read = (t: number) => names.get(t)!;
  let relu6Bounds: [string, string] | undefined;
  const activate = (x: string, a: FloatActivation, name: string): string => {
    if (a === 'NONE') return x;
    if (a === 'RELU') return g.node('Relu', [x], [], { name: `${name}/relu` });
    relu6Bounds ??= [g.initializer(scalarTensor('relu6_min', 0)), g.initializer(scalarTensor('relu6_max', 6))];
    return g.node('Clip', [x, ...relu6Bounds], [], { name: `${name}/relu6` });
  };

  for (const node of net.nodes) {
    switch (node.kind) {
      case 'conv': {
        const { weights, dims } = onnxConvWeights(node);
        const w = g.initializer(floatTensor(`${node.name}/W`, dims, weights));
        const b = g.initializer(floatTensor(`${node.name}/B`, [node.outChannels], node.bias));
        const y = g.node(
          'Conv',
          [read(node.input), w, b],
          [
            attr.ints('kernel_shape', node.kernel),
            attr.ints('strides', node.stride),
            attr.ints('dilations', node.dilation),
            attr.ints('pads', node.pads),
            attr.int('group', node.depthwise ? node.inChannels : 1),
          ],
          { name: node.name },
        );
        names.set(node.output, activate(y, node.activation, node.name));
        break;
      }
      case 'add':
        names.set(node.output, activate(g.node('Add', node.inputs.map(read), [], { name: node.name }), node.activation, node.name));
        break;
      case 'avgpool':
        names.set(
          node.output,
          g.node('AveragePool', [read(node.input)], [attr.ints('kernel_shape', node.kernel), attr.ints('strides', node.stride), attr.ints('pads', [0, 0, 0, 0])], {
            name: node.name,
          }),
        );
        break;
      case 'flatten':
        // [n, C, 1, 1] → [n, C]: the same order as NHWC [n, 1, 1, C].
        names.set(node.output, g.node('Flatten', [read(node.input)], [attr.int('axis', 1)], { name: node.name }));
        break;
      case 'softmax': {
        let x = read(node.input);
        if (node.beta !== 1) x = g.node('Mul', [x, g.initializer(scalarTensor(`${node.name}/beta`, node.beta))], [], { name: `${node.name}/beta` });
        names.set(node.output, g.node('Softmax', [x], [attr.int('axis', -1)], { name: node.name }));
        break;
      }
    }
  }

  const last = read(net.output);
  let outputShape: number[];
  if (net.outputShape.length === 3) {
    const [h, w, c] = net.outputShape;
    const nhwc = g.node('Transpose', [last], [attr.ints('perm', [0, 2, 3, 1])], { name: 'output_to_nhwc' });
    const shape = g.initializer(int64Tensor('features_shape', [0, h * w, c])); // 0 = keep the batch dimension
    g.node('Reshape', [nhwc, shape], [], { name: 'features_flatten', output: MOBILENET_ONNX_OUTPUT });
    outputShape = [h * w, c];
  } else {
    g.node('Identity', [last], [], { name: 'output', output: MOBILENET_ONNX_OUTPUT });
    outputShape = [...net.outputShape];
  }
  g.output(MOBILENET_ONNX_OUTPUT, DataType.FLOAT, ['batch', ...outputShape]);
  const bytes = encodeModel({
    graph: g.build(),
    opsets: [{ domain: '', version: 13 }],
    producerName: '@captioner/featurize',
    producerVersion: `mobilenet-${MOBILENET_ONNX_VERSION}`,
    doc: `MobileNetV2 from ${net.origin}, cut at ${net.target}`,
    metadata: { target: net.target, ...metadata },
  });
  return { bytes, outputShape, nodeCount: g.nodeCount };
}
