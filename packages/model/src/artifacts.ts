/**
 * The saved-model format, without file-system access so browsers can use it (fetch the files, then
 * `modelFromArtifacts`). Each file's schema is in contract.ts. A model folder holds:
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
import { CaptionerError, parseWithSchema } from '@captioner/core';
import { CaptionModel, parameterSpecs, type LoadedCaptionModel, type SaveExtras } from './model.js';
import { modelConfigJsonSchema, modelFeaturesSchema, modelJsonSchema, vocabularySchema, MODEL_FORMAT } from './contract.js';

export { MODEL_FORMAT, MODEL_FILES, type FeatureInfo, type Vocabulary, type TrainingInfo } from './contract.js';

// Defined with the model (model.ts names them in save/load) and re-exported with the format.
export type { LoadedCaptionModel, SaveExtras } from './model.js';

export interface ModelArtifacts {
  modelJson: unknown;
  weightData: ArrayBuffer;
  vocab: unknown;
  features: unknown;
  config: unknown;
}

export async function encodeModelArtifacts(model: CaptionModel, extras: SaveExtras): Promise<ModelArtifacts> {
  const { data, specs } = await tf.io.encodeWeights(model.namedWeights());
  // The feature-set fields only (a featurize manifest's shards, counts, … are dropped).
  const features = parseWithSchema(extras.features, modelFeaturesSchema, 'features.json');
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

/** Validates the artifacts and builds the model; errors name the offending file (prefixed by `where`). */
export function modelFromArtifacts(a: ModelArtifacts, where = ''): LoadedCaptionModel {
  const file = (name: string) => `${where}${name}`;
  const mj = parseWithSchema(a.modelJson, modelJsonSchema, file('model.json'));
  const config = mj.modelTopology.config;
  const specs = mj.weightsManifest[0].weights as tf.io.WeightsManifestEntry[];
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

  const vocab = parseWithSchema(a.vocab, vocabularySchema, file('vocab.json'));
  if (vocab.vocabSize !== config.vocabSize) {
    fail(file('vocab.json'), `vocabSize ${vocab.vocabSize} does not match the model's ${config.vocabSize}`);
  }
  const features = parseWithSchema(a.features, modelFeaturesSchema, file('features.json'));
  if (features.dim !== config.featureDim) fail(file('features.json'), `dim ${features.dim} does not match the model's featureDim ${config.featureDim}`);
  if (features.locations !== config.locations) {
    fail(file('features.json'), `locations ${features.locations} does not match the model's ${config.locations}`);
  }
  const cfg = parseWithSchema(a.config, modelConfigJsonSchema, file('config.json'));
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
  words[0] = vocab.padToken;
  for (const [w, id] of Object.entries(vocab.wordIndex)) {
    if (id > 0 && id < config.vocabSize) words[id] = w;
  }
  return Object.assign(model, {
    vocab,
    features,
    training: cfg.training,
    words,
  });
}
