/**
 * A FloatNet (MobileNetV2 read from TFLite) as TF.js ops: fused conv2d / depthwiseConv2d with the
 * bias and ReLU6, adds for the residuals. Pads are the explicit TF SAME pads the FloatNet holds
 * (the odd pixel at the bottom/right), never TF.js' own 'same'.
 *
 * Browser-safe: the TF.js namespace is passed in (type-only import here), so a page can use its
 * own @tensorflow/tfjs with model bytes it fetched:
 *   const net = mobileNetFromTflite(new Uint8Array(await (await fetch(url)).arrayBuffer()), 'Conv_1');
 *   const model = mobileNetToTfjs(net, tf);
 */
import type { tf as Tf } from '@captioner/tf';
import type { FloatActivation, FloatNet } from './mobilenet.js';

type TfNamespace = typeof Tf;

export interface MobileNetTfjs {
  /** NHWC float pixels (already scaled) → [n, H*W, C] for a feature layer, [n, classes] for the classifier. */
  predict(pixels: Tf.Tensor4D): Tf.Tensor;
  /** Per-image output shape ([locations, channels] or [classes]). */
  outputShape: number[];
  dispose(): void;
}

/** OHWI → HWIO (TF.js conv2d filters). */
export function hwioFromOhwi(ohwi: Float32Array, out: number, kh: number, kw: number, inC: number): Float32Array {
  const hwio = new Float32Array(ohwi.length);
  for (let o = 0; o < out; o++)
    for (let y = 0; y < kh; y++) for (let x = 0; x < kw; x++) for (let i = 0; i < inC; i++) hwio[((y * kw + x) * inC + i) * out + o] = ohwi[((o * kh + y) * kw + x) * inC + i];
  return hwio;
}

export function mobileNetToTfjs(net: FloatNet, tf: TfNamespace): MobileNetTfjs {
  // Weights become tensors once; predict() only runs ops.
  const params = net.nodes.map((node) => {
    if (node.kind !== 'conv') return null;
    const [kh, kw] = node.kernel;
    const filter = node.depthwise
      ? // TFLite 1HWC with channel c*m+k is TF.js [kh, kw, C, m] in the same memory order.
        tf.tensor4d(node.weights, [kh, kw, node.inChannels, node.outChannels / node.inChannels])
      : tf.tensor4d(hwioFromOhwi(node.weights, node.outChannels, kh, kw, node.inChannels), [kh, kw, node.inChannels, node.outChannels]);
    return { filter, bias: tf.tensor1d(node.bias) };
  });
  const fusedActivation = (a: FloatActivation) => (({ NONE: 'linear', RELU: 'relu', RELU6: 'relu6' }) as const)[a];
  const activate = (x: Tf.Tensor4D, a: FloatActivation): Tf.Tensor4D => (a === 'NONE' ? x : a === 'RELU' ? tf.relu(x) : tf.relu6(x));

  const outputShape = net.outputShape.length === 3 ? [net.outputShape[0] * net.outputShape[1], net.outputShape[2]] : [...net.outputShape];
  const predict = (pixels: Tf.Tensor4D): Tf.Tensor =>
    tf.tidy(() => {
      const n = pixels.shape[0];
      const values = new Map<number, Tf.Tensor>([[net.input, pixels]]);
      const read = <T extends Tf.Tensor>(t: number) => values.get(t) as T;
      net.nodes.forEach((node, k) => {
        switch (node.kind) {
          case 'conv': {
            const { filter, bias } = params[k]!;
            const [top, left, bottom, right] = node.pads;
            let x = read<Tf.Tensor4D>(node.input);
            let y: Tf.Tensor4D;
            if (!node.depthwise) {
              y = tf.fused.conv2d({
                x,
                filter: filter as Tf.Tensor4D,
                strides: node.stride,
                pad: [
                  [0, 0],
                  [top, bottom],
                  [left, right],
                  [0, 0],
                ],
                dilations: node.dilation,
                bias,
                activation: fusedActivation(node.activation),
              });
            } else {
              // Fused depthwise takes no explicit pads: one symmetric number, or pad first.
              let pad: number | 'valid' = top;
              if (!(top === bottom && left === right && top === left)) {
                x = tf.pad(x, [
                  [0, 0],
                  [top, bottom],
                  [left, right],
                  [0, 0],
                ]);
                pad = 'valid';
              }
              y = tf.fused.depthwiseConv2d({
                x,
                filter: filter as Tf.Tensor4D,
                strides: node.stride,
                pad,
                dilations: node.dilation,
                bias,
                activation: fusedActivation(node.activation),
              });
            }
            values.set(node.output, y);
            break;
          }
          case 'add':
            values.set(node.output, activate(tf.add(read<Tf.Tensor4D>(node.inputs[0]), read<Tf.Tensor4D>(node.inputs[1])), node.activation));
            break;
          case 'avgpool':
            values.set(node.output, tf.avgPool(read<Tf.Tensor4D>(node.input), node.kernel, node.stride, 'valid'));
            break;
          case 'flatten':
            values.set(node.output, read(node.input).reshape([n, -1]));
            break;
          case 'softmax': {
            const x = read<Tf.Tensor2D>(node.input);
            values.set(node.output, tf.softmax(node.beta === 1 ? x : tf.mul(x, node.beta)));
            break;
          }
        }
      });
      const out = read(net.output);
      return out.reshape([n, ...outputShape]);
    });
  return {
    predict,
    outputShape,
    dispose: () => params.forEach((p) => (p ? (p.filter.dispose(), p.bias.dispose()) : undefined)),
  };
}
