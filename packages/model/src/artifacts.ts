/**
 * The saved-model format, without file-system access so browsers can use it (fetch the files, then
 * `modelFromArtifacts`). A model folder holds:
 *
 *   model.json     { format, generatedBy, modelTopology: { className, config, gru, parameters },
 *                    weightsManifest: [{ paths: ["weights.bin"], weights: [{ name, shape, dtype }] }] }
 *                  — the standard TF.js weights manifest (tf.io.loadWeights / decodeWeights read it)
 *   weights.bin    float32 little-endian weights, in manifest order
 *   vocab.json     the tokenize stage's vocabulary (wordIndex, numWords, vocabSize, …)
 *   features.json  the featurize settings the model was trained on (layer, scaling, dim, …)
 *   config.json    { model: CaptionModelConfig, training?: {…} }
 */
import { tf } from '@captioner/tf';
import { CaptionerError } from '@captioner/core';
import { CaptionModel, parameterSpecs, type CaptionModelConfig } from './model.js';

export const MODEL_FORMAT = 'captioner-show-attend-tell/1';
export const MODEL_FILES = ['model.json', 'weights.bin', 'vocab.json', 'features.json', 'config.json'] as const;

export interface Vocabulary {
  numWords: number;
  vocabSize: number;
  oovToken: string;
  padToken: string;
  maxLength: number;
  wordIndex: Record<string, number>;
  [key: string]: unknown;
}

/** The featurize manifest fields a model depends on. */
export interface FeatureInfo {
  layer: string;
  scaling: string;
  dim: number;
  locations: number;
  grid: number[];
  inputSize: number;
  weightsHash: string;
  [key: string]: unknown;
}

export interface SaveExtras {
  vocab: object;
  features: object;
  training?: object;
}

export interface ModelArtifacts {
  modelJson: unknown;
  weightData: ArrayBuffer;
  vocab: unknown;
  features: unknown;
  config: unknown;
}

/** A model restored from a folder, with what it needs for inference. */
export type LoadedCaptionModel = CaptionModel & {
  vocab: Vocabulary;
  features: FeatureInfo;
  training?: unknown;
  /** id → word, from vocab.wordIndex (ids ≥ vocabSize never occur). */
  words: string[];
};

/**
 * What a captioner needs to featurize a new image exactly as the training features were made:
 * the network cut, pixel scaling, resize grid mode, alpha handling, on-disk precision (caption-time
 * features are rounded the same way) and the preprocessing version.
 */
const FEATURE_KEYS = [
  'backbone',
  'layer',
  'scaling',
  'dim',
  'locations',
  'grid',
  'inputSize',
  'weightsHash',
  'weights',
  'halfPixelCenters',
  'alpha',
  'dtype',
  'preprocessVersion',
] as const;

export async function encodeModelArtifacts(model: CaptionModel, extras: SaveExtras): Promise<ModelArtifacts> {
  const { data, specs } = await tf.io.encodeWeights(model.namedWeights());
  const given = extras.features as Record<string, unknown>;
  const features = Object.fromEntries(FEATURE_KEYS.filter((k) => given[k] !== undefined).map((k) => [k, given[k]]));
  return {
    modelJson: {
      format: MODEL_FORMAT,
      generatedBy: `TensorFlow.js tfjs-core v${tf.version_core}`,
      convertedBy: null,
      modelTopology: {
        className: 'ShowAttendTell',
        config: model.config,
        gru: { resetAfter: true, recurrentActivation: 'sigmoid', activation: 'tanh', gateOrder: ['z', 'r', 'h'], inputOrder: ['context', 'embedding'] },
        parameters: model.parameterNames,
      },
      weightsManifest: [{ paths: ['weights.bin'], weights: specs }],
    },
    weightData: data,
    vocab: extras.vocab,
    features,
    config: { model: model.config, ...(extras.training ? { training: extras.training } : {}) },
  };
}

function fail(file: string, message: string): never {
  throw new CaptionerError(`${file}: ${message}`);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return !!v && typeof v === 'object' && !Array.isArray(v);
}

/** Validates the artifacts and builds the model; errors name the offending file (prefixed by `where`). */
export function modelFromArtifacts(a: ModelArtifacts, where = ''): LoadedCaptionModel {
  const file = (name: string) => `${where}${name}`;
  const mj = a.modelJson;
  if (!isObject(mj) || mj.format !== MODEL_FORMAT) fail(file('model.json'), `not a captioner model (format must be "${MODEL_FORMAT}")`);
  const topology = mj.modelTopology;
  if (!isObject(topology) || !isObject(topology.config)) fail(file('model.json'), 'missing modelTopology.config');
  const config = topology.config as unknown as CaptionModelConfig;
  const manifest = mj.weightsManifest;
  if (!Array.isArray(manifest) || manifest.length !== 1 || !isObject(manifest[0]) || !Array.isArray(manifest[0].weights)) {
    fail(file('model.json'), 'weightsManifest must hold one group of weights');
  }
  const specs = (manifest[0] as { weights: tf.io.WeightsManifestEntry[] }).weights;
  let expected;
  try {
    expected = parameterSpecs(config);
  } catch (err) {
    fail(file('model.json'), `bad model config: ${(err as Error).message}`);
  }
  const byName = new Map(specs.map((s) => [s.name, s]));
  let bytes = 0;
  for (const spec of expected) {
    const s = byName.get(spec.name);
    if (!s) fail(file('model.json'), `weight ${spec.name} is missing from the manifest`);
    if (s.dtype !== 'float32') fail(file('model.json'), `weight ${spec.name} must be float32, got ${s.dtype}`);
    if (!tf.util.arraysEqual(s.shape, spec.shape)) {
      fail(file('model.json'), `weight ${spec.name} has shape [${s.shape}], the model config needs [${spec.shape}]`);
    }
  }
  for (const s of specs) bytes += 4 * s.shape.reduce((x, y) => x * y, 1);
  if (a.weightData.byteLength !== bytes) {
    fail(file('weights.bin'), `has ${a.weightData.byteLength} bytes, model.json describes ${bytes}`);
  }

  const vocab = a.vocab;
  if (!isObject(vocab) || !isObject(vocab.wordIndex) || typeof vocab.vocabSize !== 'number') {
    fail(file('vocab.json'), 'must be a tokenize vocabulary with wordIndex and vocabSize');
  }
  if (vocab.vocabSize !== config.vocabSize) {
    fail(file('vocab.json'), `vocabSize ${vocab.vocabSize} does not match the model's ${config.vocabSize}`);
  }
  const features = a.features;
  if (!isObject(features)) fail(file('features.json'), 'must be an object');
  if (features.dim !== config.featureDim) fail(file('features.json'), `dim ${features.dim} does not match the model's featureDim ${config.featureDim}`);
  if (features.locations !== config.locations) {
    fail(file('features.json'), `locations ${features.locations} does not match the model's ${config.locations}`);
  }
  const cfg = a.config;
  if (!isObject(cfg) || !isObject(cfg.model)) fail(file('config.json'), 'missing "model" section');
  for (const [k, v] of Object.entries(config)) {
    if ((cfg.model as Record<string, unknown>)[k] !== v) fail(file('config.json'), `model.${k} disagrees with model.json`);
  }

  const weights = tf.io.decodeWeights(a.weightData, specs);
  let model: CaptionModel;
  try {
    model = CaptionModel.fromWeights(config, weights);
  } finally {
    tf.dispose(Object.values(weights));
  }
  const words: string[] = new Array(config.vocabSize).fill('');
  words[0] = typeof vocab.padToken === 'string' ? vocab.padToken : '<pad>';
  for (const [w, id] of Object.entries(vocab.wordIndex as Record<string, number>)) {
    if (id > 0 && id < config.vocabSize) words[id] = w;
  }
  return Object.assign(model, {
    vocab: vocab as Vocabulary,
    features: features as FeatureInfo,
    training: isObject(cfg) ? cfg.training : undefined,
    words,
  });
}
