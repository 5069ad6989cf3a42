/**
 * Converts a (truncated) Keras functional CNN to an ONNX graph, in TypeScript, so onnxruntime-node
 * can run it. Supported layers are what InceptionV3 up to mixed10 uses: Conv2D, BatchNormalization
 * (folded into the preceding conv as a weight scale + bias), Activation, Max/AveragePooling2D,
 * Concatenate, plus Dropout (identity at inference) and the InputLayer.
 *
 * Layout: the graph takes NHWC pixels like the TF.js model, transposes once to NCHW (ONNX's conv
 * layout), and transposes back at the end, so the output is [batch, H*W, C] in row-major grid order.
 * Keras 'same' padding puts the odd pixel at the end (bottom/right); ONNX's auto_pad=SAME_UPPER
 * does too, but we write explicit pads so the graph does not rely on it.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { attr, DataType, encodeModel, floatTensor, GraphBuilder, int64Tensor, type OnnxAttribute } from '@captioner/onnx';
import { CaptionerError } from '@captioner/core';
import { workspaceRoot, writeFileAtomic } from '@captioner/core/node';
import { ModelFormatError, tfPads } from './padding.js';
import { decodeWeights, FEATURE_LAYERS, type KerasLayerConfig, type KerasModelConfig, type TruncatedModel } from './inception.js';

/** Bump when the exporter's output changes, so cached .onnx files are regenerated. */
export const ONNX_EXPORTER_VERSION = 1;
const OPSET = 13;
const IR_VERSION = 8;
export const ONNX_INPUT = 'pixels';
export const ONNX_OUTPUT = 'features';

const { ints, int } = attr;

export interface KerasToOnnxOptions {
  modelConfig: KerasModelConfig;
  /** Float32 weights keyed by their TF.js names (`<layer>/<variable>`, any scope prefix). */
  weights: Map<string, Float32Array>;
  /** Square input side in pixels. */
  inputSize: number;
  outputLayer: string;
  /** Average-pool the output layer poolBy x poolBy, stride poolBy, 'valid' (1 = no pooling). */
  poolBy: number;
  /** Free text stored in the model's doc_string / metadata (e.g. the weights hash). */
  metadata?: Record<string, string>;
}

export interface OnnxGraph {
  bytes: Uint8Array;
  /** Output grid after pooling and channels: [height, width, channels]. */
  outputShape: [number, number, number];
  nodeCount: number;
}

/** Spatial padding for one axis, as Keras/TF compute it (tfPads with CaptionerErrors). */
export function kerasPads(padding: string, inSize: number, kernel: number, stride: number, dilation = 1): { out: number; begin: number; end: number } {
  if (padding !== 'same' && padding !== 'valid') throw new CaptionerError(`unsupported padding "${padding}" (expected 'same' or 'valid')`);
  try {
    return tfPads(padding, inSize, kernel, stride, dilation);
  } catch (err) {
    throw err instanceof ModelFormatError ? new CaptionerError(err.message) : err;
  }
}

/** Keras NHWC axis (possibly negative) → ONNX NCHW axis. */
function nchwAxis(kerasAxis: number): number {
  const a = kerasAxis < 0 ? kerasAxis + 4 : kerasAxis;
  const map = [0, 2, 3, 1];
  if (!(a >= 0 && a < 4)) throw new CaptionerError(`axis ${kerasAxis} is out of range for a 4-D NHWC tensor`);
  return map[a];
}

function pair(v: unknown, what: string): [number, number] {
  if (typeof v === 'number') return [v, v];
  if (Array.isArray(v) && v.length === 2 && v.every((x) => typeof x === 'number')) return [v[0], v[1]];
  throw new CaptionerError(`${what}: expected a number or a pair, got ${JSON.stringify(v)}`);
}

/** Builds the ONNX model for the graph from the input layer up to `outputLayer`. */
export function kerasToOnnx(opts: KerasToOnnxOptions): OnnxGraph {
  const layers = new Map(opts.modelConfig.layers.map((l) => [l.name, l]));
  const output = layers.get(opts.outputLayer);
  if (!output) throw new CaptionerError(`onnx export: no layer "${opts.outputLayer}"`);

  // Weights by `<layer>/<variable>` (drop scope prefixes and `:0` suffixes).
  const weightByKey = new Map<string, Float32Array>();
  for (const [name, values] of opts.weights) weightByKey.set(name.replace(/:\d+$/, '').split('/').slice(-2).join('/'), values);
  const weight = (layer: string, variable: string, size: number): Float32Array => {
    const w = weightByKey.get(`${layer}/${variable}`);
    if (!w) throw new CaptionerError(`onnx export: weight "${layer}/${variable}" is missing`);
    if (w.length !== size) throw new CaptionerError(`onnx export: weight "${layer}/${variable}" has ${w.length} values, expected ${size}`);
    return w;
  };

  // Topological order (post-order DFS from the output) and consumer counts for BN folding.
  const order: KerasLayerConfig[] = [];
  const visited = new Set<string>();
  const consumers = new Map<string, string[]>();
  const visit = (name: string, path: Set<string>) => {
    if (visited.has(name)) return;
    if (path.has(name)) throw new CaptionerError(`onnx export: cycle through layer "${name}"`);
    const l = layers.get(name);
    if (!l) throw new CaptionerError(`onnx export: layer "${name}" is referenced but not defined`);
    path.add(name);
    for (const ref of inboundOf(l)) {
      consumers.set(ref, [...(consumers.get(ref) ?? []), name]);
      visit(ref, path);
    }
    path.delete(name);
    visited.add(name);
    order.push(l);
  };
  visit(opts.outputLayer, new Set());

  const g = new GraphBuilder(opts.modelConfig.name ?? 'model');
  /** Keras layer → ONNX tensor holding its output, and that tensor's [C, H, W]. */
  const tensorOf = new Map<string, string>();
  const shapeOf = new Map<string, [number, number, number]>();
  const foldedBn = new Set<string>();
  const emit = (op_type: string, name: string, input: string[], out: string, attribute: OnnxAttribute[] = []) => {
    g.node(op_type, input, attribute, { name, output: out });
  };

  const S = opts.inputSize;
  g.input(ONNX_INPUT, DataType.FLOAT, ['batch', S, S, 3]);
  emit('Transpose', 'input_to_nchw', [ONNX_INPUT], 'pixels_nchw', [ints('perm', [0, 3, 1, 2])]);

  for (const l of order) {
    const where = `onnx export: layer "${l.name}" (${l.class_name})`;
    const inputs = inboundOf(l);
    const inTensor = () => tensorOf.get(inputs[0])!;
    const inShape = () => shapeOf.get(inputs[0])!;
    const cfg = l.config;
    const expectOneInput = () => {
      if (inputs.length !== 1) throw new CaptionerError(`${where}: expected 1 input, got ${inputs.length}`);
    };
    switch (l.class_name) {
      case 'InputLayer': {
        tensorOf.set(l.name, 'pixels_nchw');
        shapeOf.set(l.name, [3, S, S]);
        break;
      }
      case 'Conv2D': {
        expectOneInput();
        if (cfg.data_format && cfg.data_format !== 'channels_last') throw new CaptionerError(`${where}: data_format must be channels_last`);
        if ((cfg.groups ?? 1) !== 1) throw new CaptionerError(`${where}: grouped convolutions are not supported`);
        const [c, h, w] = inShape();
        const [kh, kw] = pair(cfg.kernel_size, `${where} kernel_size`);
        const [sh, sw] = pair(cfg.strides ?? 1, `${where} strides`);
        const [dh, dw] = pair(cfg.dilation_rate ?? 1, `${where} dilation_rate`);
        const filters = cfg.filters as number;
        const ph = kerasPads(String(cfg.padding), h, kh, sh, dh);
        const pw = kerasPads(String(cfg.padding), w, kw, sw, dw);
        // HWIO → OIHW.
        const hwio = weight(l.name, 'kernel', kh * kw * c * filters);
        const oihw = new Float32Array(hwio.length);
        for (let y = 0; y < kh; y++)
          for (let x = 0; x < kw; x++)
            for (let i = 0; i < c; i++) for (let o = 0; o < filters; o++) oihw[((o * c + i) * kh + y) * kw + x] = hwio[((y * kw + x) * c + i) * filters + o];
        const bias = cfg.use_bias === false ? new Float32Array(filters) : weight(l.name, 'bias', filters).slice();

        // Fold a following BatchNormalization: y = (conv(x) + b - mean) * gamma / sqrt(var + eps) + beta.
        const next = consumers.get(l.name) ?? [];
        const bn = next.length === 1 ? layers.get(next[0]) : undefined;
        const activation = String(cfg.activation ?? 'linear');
        let outName = l.name;
        if (bn?.class_name === 'BatchNormalization' && activation === 'linear' && bnAxisIsChannels(bn)) {
          const { scale, shift } = batchNormAffine(bn, filters, weight);
          for (let o = 0; o < filters; o++) {
            const base = o * c * kh * kw;
            for (let k = 0; k < c * kh * kw; k++) oihw[base + k] *= scale[o];
            bias[o] = bias[o] * scale[o] + shift[o];
          }
          foldedBn.add(bn.name);
          outName = bn.name;
        }
        g.initializer(floatTensor(`${l.name}/W`, [filters, c, kh, kw], oihw));
        g.initializer(floatTensor(`${l.name}/B`, [filters], bias));
        const convOut = activation === 'linear' ? outName : `${outName}/pre_activation`;
        emit('Conv', l.name, [inTensor(), `${l.name}/W`, `${l.name}/B`], convOut, [
          ints('kernel_shape', [kh, kw]),
          ints('strides', [sh, sw]),
          ints('dilations', [dh, dw]),
          ints('pads', [ph.begin, pw.begin, ph.end, pw.end]),
        ]);
        if (activation !== 'linear') emitActivation(activation, `${l.name}/activation`, convOut, outName, where);
        tensorOf.set(l.name, outName);
        shapeOf.set(l.name, [filters, ph.out, pw.out]);
        if (outName !== l.name) {
          tensorOf.set(outName, outName);
          shapeOf.set(outName, [filters, ph.out, pw.out]);
        }
        break;
      }
      case 'BatchNormalization': {
        expectOneInput();
        if (foldedBn.has(l.name)) break; // already emitted as part of the conv
        if (!bnAxisIsChannels(l)) throw new CaptionerError(`${where}: only channel-axis (axis 3/-1) batch normalization is supported`);
        const [c, h, w] = inShape();
        const { scale, shift } = batchNormAffine(l, c, weight);
        // Standalone BN as a per-channel affine map: Mul + Add with [C,1,1] broadcasts.
        g.initializer(floatTensor(`${l.name}/scale`, [c, 1, 1], scale));
        g.initializer(floatTensor(`${l.name}/shift`, [c, 1, 1], shift));
        emit('Mul', `${l.name}/mul`, [inTensor(), `${l.name}/scale`], `${l.name}/scaled`);
        emit('Add', `${l.name}/add`, [`${l.name}/scaled`, `${l.name}/shift`], l.name);
        tensorOf.set(l.name, l.name);
        shapeOf.set(l.name, [c, h, w]);
        break;
      }
      case 'Activation': {
        expectOneInput();
        const activation = String(cfg.activation);
        if (activation === 'linear') tensorOf.set(l.name, inTensor());
        else {
          emitActivation(activation, l.name, inTensor(), l.name, where);
          tensorOf.set(l.name, l.name);
        }
        shapeOf.set(l.name, inShape());
        break;
      }
      case 'ReLU': {
        expectOneInput();
        if (cfg.max_value != null || Number(cfg.negative_slope ?? 0) !== 0 || Number(cfg.threshold ?? 0) !== 0) {
          throw new CaptionerError(`${where}: only plain ReLU (no max_value/negative_slope/threshold) is supported`);
        }
        emit('Relu', l.name, [inTensor()], l.name);
        tensorOf.set(l.name, l.name);
        shapeOf.set(l.name, inShape());
        break;
      }
      case 'Dropout': {
        expectOneInput();
        tensorOf.set(l.name, inTensor());
        shapeOf.set(l.name, inShape());
        break;
      }
      case 'MaxPooling2D':
      case 'AveragePooling2D': {
        expectOneInput();
        if (cfg.data_format && cfg.data_format !== 'channels_last') throw new CaptionerError(`${where}: data_format must be channels_last`);
        const [c, h, w] = inShape();
        const [kh, kw] = pair(cfg.pool_size, `${where} pool_size`);
        const [sh, sw] = pair(cfg.strides ?? cfg.pool_size, `${where} strides`);
        const ph = kerasPads(String(cfg.padding), h, kh, sh);
        const pw = kerasPads(String(cfg.padding), w, kw, sw);
        const attrs = [ints('kernel_shape', [kh, kw]), ints('strides', [sh, sw]), ints('pads', [ph.begin, pw.begin, ph.end, pw.end])];
        // TF averages over the valid (unpadded) pixels only.
        if (l.class_name === 'AveragePooling2D') attrs.push(int('count_include_pad', 0));
        emit(l.class_name === 'MaxPooling2D' ? 'MaxPool' : 'AveragePool', l.name, [inTensor()], l.name, attrs);
        tensorOf.set(l.name, l.name);
        shapeOf.set(l.name, [c, ph.out, pw.out]);
        break;
      }
      case 'Concatenate': {
        const axis = nchwAxis(Number(cfg.axis ?? -1));
        if (axis !== 1) throw new CaptionerError(`${where}: only channel concatenation is supported`);
        const shapes = inputs.map((i) => shapeOf.get(i)!);
        const [, h, w] = shapes[0];
        if (shapes.some((s) => s[1] !== h || s[2] !== w)) {
          throw new CaptionerError(`${where}: inputs have different grids ${JSON.stringify(shapes)}`);
        }
        emit(
          'Concat',
          l.name,
          inputs.map((i) => tensorOf.get(i)!),
          l.name,
          [int('axis', 1)],
        );
        tensorOf.set(l.name, l.name);
        shapeOf.set(l.name, [shapes.reduce((n, s) => n + s[0], 0), h, w]);
        break;
      }
      default:
        throw new CaptionerError(`${where}: layer class ${l.class_name} is not supported by the ONNX exporter`);
    }
  }

  let last = tensorOf.get(opts.outputLayer)!;
  let [c, h, w] = shapeOf.get(opts.outputLayer)!;
  if (opts.poolBy > 1) {
    const p = opts.poolBy;
    emit('AveragePool', 'feature_pool', [last], 'feature_pool', [ints('kernel_shape', [p, p]), ints('strides', [p, p]), ints('pads', [0, 0, 0, 0])]);
    last = 'feature_pool';
    h = Math.floor((h - p) / p) + 1;
    w = Math.floor((w - p) / p) + 1;
  }
  emit('Transpose', 'output_to_nhwc', [last], 'features_nhwc', [ints('perm', [0, 2, 3, 1])]);
  g.initializer(int64Tensor('features_shape', [0, h * w, c])); // 0 = keep the batch dimension
  emit('Reshape', 'features_flatten', ['features_nhwc', 'features_shape'], ONNX_OUTPUT);

  g.output(ONNX_OUTPUT, DataType.FLOAT, ['batch', h * w, c]);
  const bytes = encodeModel({
    graph: g.build(),
    irVersion: IR_VERSION,
    opsets: [{ domain: '', version: OPSET }],
    producerName: '@captioner/featurize',
    producerVersion: String(ONNX_EXPORTER_VERSION),
    doc: `Keras model truncated at ${opts.outputLayer}${opts.poolBy > 1 ? `, average-pooled ${opts.poolBy}x${opts.poolBy}` : ''}`,
    metadata: opts.metadata,
  });
  return { bytes, outputShape: [h, w, c], nodeCount: g.nodeCount };

  function emitActivation(activation: string, name: string, input: string, out: string, where: string) {
    const op = { relu: 'Relu', sigmoid: 'Sigmoid', tanh: 'Tanh' }[activation];
    if (!op) throw new CaptionerError(`${where}: activation "${activation}" is not supported by the ONNX exporter`);
    emit(op, name, [input], out);
  }
}

function inboundOf(l: KerasLayerConfig): string[] {
  if (l.inbound_nodes.length > 1) throw new CaptionerError(`onnx export: layer "${l.name}" is shared (called ${l.inbound_nodes.length} times)`);
  const node = l.inbound_nodes[0] ?? [];
  if (!Array.isArray(node) || node.some((ref) => !Array.isArray(ref) || typeof ref[0] !== 'string')) {
    throw new CaptionerError(`onnx export: layer "${l.name}" has inbound_nodes in an unsupported (non-Keras-2) format`);
  }
  for (const ref of node) {
    if (ref[1] !== 0 || ref[2] !== 0)
      throw new CaptionerError(`onnx export: layer "${l.name}" reads output ${ref[1]}/${ref[2]} of "${ref[0]}" (only single-output layers are supported)`);
  }
  return node.map((ref) => ref[0]);
}

function bnAxisIsChannels(l: KerasLayerConfig): boolean {
  const axis = l.config.axis;
  const a = Array.isArray(axis) ? (axis.length === 1 ? axis[0] : NaN) : (axis ?? -1);
  return a === 3 || a === -1;
}

/** The per-channel affine map a frozen BatchNormalization computes: y = x * scale + shift. */
export function batchNormAffine(
  l: KerasLayerConfig,
  channels: number,
  weight: (layer: string, variable: string, size: number) => Float32Array,
): { scale: Float32Array; shift: Float32Array } {
  const eps = Number(l.config.epsilon ?? 1e-3);
  const gamma = l.config.scale === false ? undefined : weight(l.name, 'gamma', channels);
  const beta = l.config.center === false ? undefined : weight(l.name, 'beta', channels);
  const mean = weight(l.name, 'moving_mean', channels);
  const variance = weight(l.name, 'moving_variance', channels);
  const scale = new Float32Array(channels);
  const shift = new Float32Array(channels);
  for (let i = 0; i < channels; i++) {
    scale[i] = (gamma ? gamma[i] : 1) / Math.sqrt(variance[i] + eps);
    shift[i] = (beta ? beta[i] : 0) - mean[i] * scale[i];
  }
  return { scale, shift };
}

// ---------------------------------------------------------------------------------------------
// The InceptionV3 feature model, exported once and cached.

/** Where exported models are cached: $CAPTIONER_CACHE_DIR, else <workspace>/node_modules/.cache/captioner, else the OS temp dir. */
export function onnxCacheDir(): string {
  if (process.env.CAPTIONER_CACHE_DIR) return join(process.env.CAPTIONER_CACHE_DIR, 'onnx');
  const nodeModules = join(workspaceRoot(), 'node_modules');
  return existsSync(nodeModules) ? join(nodeModules, '.cache', 'captioner', 'onnx') : join(tmpdir(), 'captioner-cache', 'onnx');
}

export function exportFeatureModel(model: TruncatedModel): OnnxGraph {
  const geometry = FEATURE_LAYERS[model.layer];
  const graph = kerasToOnnx({
    modelConfig: model.modelConfig,
    weights: decodeWeights(model.weightSpecs, model.weightData, model.origin),
    inputSize: model.inputSize,
    outputLayer: model.layer,
    poolBy: geometry.poolBy,
    metadata: { weightsHash: model.weightsHash, layer: model.layer, source: model.origin },
  });
  const [h, w, c] = graph.outputShape;
  if (h !== geometry.grid[0] || w !== geometry.grid[1] || c !== geometry.dim) {
    throw new CaptionerError(
      `${model.origin}: layer ${model.layer} gives ${h}x${w}x${c} features for ${model.inputSize}x${model.inputSize} input, expected ${geometry.grid.join('x')}x${geometry.dim}`,
    );
  }
  return graph;
}

/** Path of the cached .onnx for this model, exporting (atomically) on first use. */
export function cachedFeatureModelPath(model: TruncatedModel, cacheDir = onnxCacheDir()): { path: string; exported: boolean } {
  const path = join(cacheDir, `inception-${model.layer}-${model.weightsHash.slice(0, 24)}-v${ONNX_EXPORTER_VERSION}.onnx`);
  if (existsSync(path)) return { path, exported: false };
  mkdirSync(cacheDir, { recursive: true });
  writeFileAtomic(path, exportFeatureModel(model).bytes);
  return { path, exported: true };
}
