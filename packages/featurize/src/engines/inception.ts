/**
 * The InceptionV3 backbone as plain data: a Keras functional topology pruned to the feature layer,
 * the weight specs and bytes of the layers that remain, and their sha256. Both engines start from
 * this: TF.js loads it through an in-memory IOHandler, the ONNX exporter converts it.
 *
 * Sources: the Keras 2.2.4 InceptionV3 bundled in nsfwjs (uint8-quantized; layers up to activation_55
 * are stock ImageNet weights, mixed6..mixed10 were fine-tuned for nsfwjs' 5 classes on pixels in
 * [0,1]), or any TF.js layers-model folder (model.json + weight files).
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { CaptionerError } from '@captioner/core';
import { readJson } from '@captioner/core/node';
import * as z from 'zod';
import { LAYER_GEOMETRY, type InceptionLayer } from './backbones.js';
import { parseBrowserifyExport } from './js-literal.js';
import { fromFloat16Bits } from '../float16.js';

/** How one weight is stored (the TF.js weights-manifest entry). */
export interface WeightSpec {
  name: string;
  shape: number[];
  dtype: 'float32' | 'int32' | 'bool' | 'string' | 'complex64';
  quantization?: { dtype: 'uint8' | 'uint16' | 'float16'; min?: number; scale?: number; original_dtype?: string };
}

/** `[layerName, nodeIndex, tensorIndex, kwargs]` as in Keras 2 configs. */
export type InboundRef = [string, number, number, Record<string, unknown>?];

export interface KerasLayerConfig {
  name: string;
  class_name: string;
  config: Record<string, unknown>;
  inbound_nodes: InboundRef[][];
}

/** The `config` of a Keras functional model (`Model`/`Functional`). */
export interface KerasModelConfig {
  name: string;
  layers: KerasLayerConfig[];
  input_layers: [string, number, number][];
  output_layers: [string, number, number][];
}

/** A whole model as loaded from disk, before truncation. */
export interface RawLayersModel {
  /** The full `modelTopology` object (with `model_config` for Keras-saved models). */
  topology: Record<string, unknown>;
  modelConfig: KerasModelConfig;
  weightSpecs: WeightSpec[];
  weightData: Uint8Array;
  /** Human-readable origin for messages, e.g. a file path. */
  origin: string;
}

/** A model cut at a feature layer: only that layer's ancestors and their weights. */
export interface TruncatedModel {
  layer: InceptionLayer;
  /** A `modelTopology` TF.js can load (same wrapper as the source, pruned model_config). */
  topology: Record<string, unknown>;
  modelConfig: KerasModelConfig;
  weightSpecs: WeightSpec[];
  weightData: Uint8Array;
  /** sha256 (hex) over the specs and bytes of the weights the truncated model uses. */
  weightsHash: string;
  inputSize: number;
  origin: string;
}

/** Output geometry per feature layer for a 299x299 input. */
export const FEATURE_LAYERS = LAYER_GEOMETRY.inception_v3;

export const INCEPTION_INPUT_SIZE = 299;

// ---------------------------------------------------------------------------------------------
// Loading

/** The nsfwjs model folder, found from the package entry (its `exports` field blocks deep imports). */
export function nsfwjsInceptionDir(): string {
  const require = createRequire(import.meta.url);
  let entry: string;
  try {
    entry = require.resolve('nsfwjs');
  } catch {
    throw new CaptionerError('featurize: the npm package "nsfwjs" is not installed (it ships the default InceptionV3 weights)');
  }
  // entry is <pkg>/dist/cjs/index.js; walk up to the package root (the folder with package.json named nsfwjs).
  let dir = dirname(entry);
  while (!existsSync(join(dir, 'package.json')) || readJson(join(dir, 'package.json'), packageNameSchema).name !== 'nsfwjs') {
    const parent = dirname(dir);
    if (parent === dir) throw new CaptionerError(`featurize: cannot find the nsfwjs package root above ${entry}`);
    dir = parent;
  }
  const modelDir = join(dir, 'dist', 'models', 'inception_v3');
  if (!existsSync(join(modelDir, 'model.min.js'))) {
    throw new CaptionerError(`featurize: ${modelDir}/model.min.js is missing (unexpected nsfwjs layout)`);
  }
  return modelDir;
}

/** Loads the InceptionV3 bundled in nsfwjs by parsing (not executing) its JS-wrapped files. */
export function loadBundledInception(modelDir = nsfwjsInceptionDir()): RawLayersModel {
  const modelFile = join(modelDir, 'model.min.js');
  const model = parseBrowserifyExport(readFileSync(modelFile, 'utf8'), modelFile) as Record<string, unknown>;
  const { topology, modelConfig, weightSpecs, paths } = readModelJsonFields(model, modelFile);
  const shards = paths.map((p) => {
    const file = join(modelDir, `${p}.min.js`);
    if (!existsSync(file)) throw new CaptionerError(`${modelFile}: weight shard ${file} is missing`);
    const base64 = parseBrowserifyExport(readFileSync(file, 'utf8'), file);
    if (typeof base64 !== 'string') throw new CaptionerError(`${file}: expected a base64 string export`);
    return new Uint8Array(Buffer.from(base64, 'base64'));
  });
  return { topology, modelConfig, weightSpecs, weightData: concatBytes(shards), origin: modelFile };
}

/** Loads a TF.js layers model folder (model.json + the weight files its manifest names). */
export function loadLayersModelDir(dir: string): RawLayersModel {
  const modelFile = join(resolve(dir), 'model.json');
  if (!existsSync(modelFile)) throw new CaptionerError(`featurize.weights: ${modelFile} does not exist (expected a TF.js layers model folder)`);
  // The fields are checked by readModelJsonFields below.
  const json = readJson(modelFile, z.record(z.string(), z.unknown()));
  if (json.format !== undefined && json.format !== 'layers-model') {
    throw new CaptionerError(`${modelFile}: format is "${String(json.format)}", expected "layers-model" (a Keras model converted with tensorflowjs_converter)`);
  }
  const { topology, modelConfig, weightSpecs, paths } = readModelJsonFields(json, modelFile);
  const shards = paths.map((p) => {
    const file = join(dirname(modelFile), p);
    if (!existsSync(file)) throw new CaptionerError(`${modelFile}: weightsManifest names ${p}, but ${file} is missing`);
    return new Uint8Array(readFileSync(file));
  });
  return { topology, modelConfig, weightSpecs, weightData: concatBytes(shards), origin: modelFile };
}

function readModelJsonFields(json: Record<string, unknown>, file: string) {
  const topology = json.modelTopology as Record<string, unknown> | undefined;
  if (!topology || typeof topology !== 'object') throw new CaptionerError(`${file}: missing "modelTopology"`);
  // Keras-saved topologies wrap the model in model_config; tfjs-saved ones are the model itself.
  const model = (topology.model_config ?? topology) as { class_name?: string; config?: KerasModelConfig };
  if (!['Model', 'Functional'].includes(String(model.class_name)) || !Array.isArray(model.config?.layers)) {
    throw new CaptionerError(`${file}: modelTopology is a "${String(model.class_name)}", expected a Keras functional model (Model/Functional) with config.layers`);
  }
  const manifest = json.weightsManifest as { paths: string[]; weights: WeightSpec[] }[] | undefined;
  if (!Array.isArray(manifest)) throw new CaptionerError(`${file}: missing "weightsManifest"`);
  return {
    topology,
    modelConfig: model.config!,
    // Groups are concatenated in manifest order, as tf.io does.
    weightSpecs: manifest.flatMap((g) => g.weights),
    paths: manifest.flatMap((g) => g.paths),
  };
}

export function loadRawModel(weights: string | undefined): RawLayersModel {
  return weights ? loadLayersModelDir(weights) : loadBundledInception();
}

// ---------------------------------------------------------------------------------------------
// Truncation

/** Cuts `raw` at `layer`: keeps the layer's ancestors (in source order) and their weights. */
export function truncateModel(raw: RawLayersModel, layer: InceptionLayer): TruncatedModel {
  const byName = new Map(raw.modelConfig.layers.map((l) => [l.name, l]));
  if (!byName.has(layer)) {
    throw new CaptionerError(`featurize.layer: ${raw.origin} has no layer named "${layer}" (layers: ${[...byName.keys()].slice(-8).join(', ')}, …)`);
  }
  const keep = new Set<string>();
  const stack: string[] = [layer];
  while (stack.length) {
    const name = stack.pop()!;
    if (keep.has(name)) continue;
    const l = byName.get(name);
    if (!l) throw new CaptionerError(`${raw.origin}: layer "${name}" is referenced but not defined`);
    keep.add(name);
    if (l.inbound_nodes.length > 1) {
      throw new CaptionerError(`${raw.origin}: layer "${name}" is called ${l.inbound_nodes.length} times (shared layers are not supported)`);
    }
    for (const node of l.inbound_nodes) for (const ref of node) stack.push(ref[0]);
  }
  const layers = raw.modelConfig.layers.filter((l) => keep.has(l.name));
  const inputs = layers.filter((l) => l.class_name === 'InputLayer');
  if (inputs.length !== 1) throw new CaptionerError(`${raw.origin}: expected one input layer above "${layer}", found ${inputs.length}`);
  const inputShape = (inputs[0].config.batch_input_shape ?? inputs[0].config.batch_shape) as (number | null)[] | undefined;
  const inputSize = inputShape?.[1] ?? INCEPTION_INPUT_SIZE;
  if (inputShape && (inputShape.length !== 4 || inputShape[3] !== 3 || (inputShape[1] ?? inputSize) !== (inputShape[2] ?? inputSize))) {
    throw new CaptionerError(`${raw.origin}: input shape ${JSON.stringify(inputShape)} is not [null, S, S, 3]`);
  }
  const modelConfig: KerasModelConfig = {
    ...raw.modelConfig,
    layers,
    input_layers: [[inputs[0].name, 0, 0]],
    output_layers: [[layer, 0, 0]],
  };
  const topology =
    raw.topology.model_config !== undefined
      ? { ...raw.topology, model_config: { ...(raw.topology.model_config as object), config: modelConfig } }
      : { ...raw.topology, config: modelConfig };

  // Slice out the bytes of the kept layers' weights; hash specs and bytes together so a changed
  // quantization range or shape changes the hash too.
  const offsets = weightOffsets(raw.weightSpecs, raw.weightData.byteLength, raw.origin);
  const weightSpecs: WeightSpec[] = [];
  const parts: Uint8Array[] = [];
  const hash = createHash('sha256');
  for (let i = 0; i < raw.weightSpecs.length; i++) {
    const spec = raw.weightSpecs[i];
    if (!keep.has(layerOfWeight(spec.name, keep))) continue;
    const bytes = raw.weightData.subarray(offsets[i], offsets[i + 1]);
    weightSpecs.push(spec);
    parts.push(bytes);
    hash.update(JSON.stringify([spec.name, spec.shape, spec.dtype, spec.quantization ?? null]));
    hash.update(bytes);
  }
  if (weightSpecs.length === 0) throw new CaptionerError(`${raw.origin}: no weights belong to the layers above "${layer}"`);
  return {
    layer,
    topology,
    modelConfig,
    weightSpecs,
    weightData: concatBytes(parts),
    weightsHash: hash.digest('hex'),
    inputSize,
    origin: raw.origin,
  };
}

/** The layer a weight belongs to: TF.js names weights `<layer>/<variable>` (possibly under a scope prefix). */
function layerOfWeight(weightName: string, layers: Set<string>): string {
  const parts = weightName.split('/');
  for (let i = parts.length - 2; i >= 0; i--) if (layers.has(parts[i])) return parts[i];
  return parts[0];
}

// ---------------------------------------------------------------------------------------------
// Weight decoding (for the ONNX exporter, which must not depend on a TF.js backend)

function bytesPerElement(spec: WeightSpec): number {
  const q = spec.quantization?.dtype;
  if (q === 'uint8') return 1;
  if (q === 'uint16' || q === 'float16') return 2;
  if (spec.dtype === 'float32' || spec.dtype === 'int32') return 4;
  if (spec.dtype === 'bool') return 1;
  throw new CaptionerError(`weight ${spec.name}: unsupported dtype ${spec.dtype}`);
}

function weightOffsets(specs: WeightSpec[], total: number, origin: string): number[] {
  const offsets = [0];
  for (const s of specs) offsets.push(offsets[offsets.length - 1] + s.shape.reduce((a, b) => a * b, 1) * bytesPerElement(s));
  if (offsets[offsets.length - 1] !== total) {
    throw new CaptionerError(`${origin}: weight files hold ${total} bytes, but the manifest describes ${offsets[offsets.length - 1]}`);
  }
  return offsets;
}

/** Decodes (and dequantizes) every weight to float32, exactly as tf.io.decodeWeights does. */
export function decodeWeights(specs: WeightSpec[], data: Uint8Array, origin = 'weights'): Map<string, Float32Array> {
  const offsets = weightOffsets(specs, data.byteLength, origin);
  const out = new Map<string, Float32Array>();
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  specs.forEach((spec, i) => {
    const size = spec.shape.reduce((a, b) => a * b, 1);
    const values = new Float32Array(size);
    const base = offsets[i];
    const q = spec.quantization;
    if (q?.dtype === 'uint8' || q?.dtype === 'uint16') {
      const scale = q.scale ?? 1;
      const min = q.min ?? 0;
      for (let k = 0; k < size; k++) {
        const v = q.dtype === 'uint8' ? data[base + k] : view.getUint16(base + 2 * k, true);
        values[k] = v * scale + min;
      }
    } else if (q?.dtype === 'float16') {
      for (let k = 0; k < size; k++) values[k] = fromFloat16Bits(view.getUint16(base + 2 * k, true));
    } else if (spec.dtype === 'float32') {
      for (let k = 0; k < size; k++) values[k] = view.getFloat32(base + 4 * k, true);
    } else if (spec.dtype === 'int32') {
      for (let k = 0; k < size; k++) values[k] = view.getInt32(base + 4 * k, true);
    } else {
      throw new CaptionerError(`${origin}: weight ${spec.name} has unsupported dtype ${spec.dtype}`);
    }
    out.set(spec.name, values);
  });
  return out;
}

function concatBytes(parts: Uint8Array[]): Uint8Array {
  const total = parts.reduce((n, p) => n + p.byteLength, 0);
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

/** A package.json's name (how the nsfwjs package root is recognised). */
const packageNameSchema = z.object({ name: z.string().optional() });

/** Loads and truncates in one step (memoized per process: parsing the bundle costs ~1 s). */
const truncatedCache = new Map<string, TruncatedModel>();
export function loadTruncatedModel(opts: { layer: InceptionLayer; weights?: string }): TruncatedModel {
  const key = `${opts.weights ? resolve(opts.weights) : '<nsfwjs>'}#${opts.layer}`;
  let model = truncatedCache.get(key);
  if (!model) {
    model = truncateModel(loadRawModel(opts.weights), opts.layer);
    truncatedCache.set(key, model);
  }
  return model;
}
