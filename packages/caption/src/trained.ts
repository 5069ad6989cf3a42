/**
 * A trained captioner's artifacts → the model plus what decoding needs (start/end ids, default
 * length, training bookkeeping). Browser-safe: the Node loader (node.ts) reads the folder, a page
 * fetches the same five files.
 */
import { CaptionerError } from '@captioner/core';
import { modelFromArtifacts, type LoadedCaptionModel, type ModelArtifacts } from '@captioner/model';
import { dequantizeArtifacts } from './quantize.js';

export const START_TOKEN = '<sos>';
export const END_TOKEN = '<eos>';

/** A saved model plus what decoding needs from its vocabulary and config.json. */
export interface TrainedModel {
  dir: string;
  model: LoadedCaptionModel;
  startId: number;
  endId: number;
  /** Decoder steps allowed by default: the longest training caption's words + <eos> (vocab maxLength − 1). */
  defaultMaxSteps: number;
  /** Training bookkeeping from config.json (epoch, best epoch, …), when the model was exported by `train`. */
  training: { epoch?: number; globalStep?: number; best?: { epoch: number; valLoss: number } | null } | null;
  /** True when weights.bin held uint8-quantized weights (decoded to float32 on load). */
  quantized: boolean;
}

/**
 * Builds the model from its artifacts (float32 or uint8-quantized weights). `dir` names the folder
 * or URL in errors ("<dir>/vocab.json: …"). Every failure is a CaptionerError.
 */
export function trainedModelFromArtifacts(artifacts: ModelArtifacts, dir: string): TrainedModel {
  const where = dir.endsWith('/') ? dir : `${dir}/`;
  let model: LoadedCaptionModel;
  const floats = (() => {
    try {
      return dequantizeArtifacts(artifacts, where);
    } catch (err) {
      throw new CaptionerError((err as Error).message);
    }
  })();
  try {
    model = modelFromArtifacts(floats, where);
  } catch (err) {
    if (err instanceof CaptionerError) throw err;
    throw new CaptionerError(`${dir}: cannot load the model: ${(err as Error).message}`);
  }
  const vocabPath = `${where}vocab.json`;
  const idOf = (token: string): number => {
    const id = model.vocab.wordIndex[token];
    if (!Number.isInteger(id) || id <= 0 || id >= model.config.vocabSize) {
      model.dispose();
      throw new CaptionerError(`${vocabPath}: token "${token}" is ${id === undefined ? 'missing' : `id ${id}, outside [1, ${model.config.vocabSize})`}; the decoder needs it`);
    }
    return id;
  };
  const startId = idOf(START_TOKEN);
  const endId = idOf(END_TOKEN);
  if (!Number.isInteger(model.vocab.maxLength) || model.vocab.maxLength < 2) {
    model.dispose();
    throw new CaptionerError(`${vocabPath}: field "maxLength" must be an integer >= 2, got ${JSON.stringify(model.vocab.maxLength)}`);
  }
  const training = model.training && typeof model.training === 'object' ? (model.training as TrainedModel['training']) : null;
  return { dir, model, startId, endId, defaultMaxSteps: model.vocab.maxLength - 1, training, quantized: floats !== artifacts };
}

/** The exported epoch (the best one when validation picked it) and the last trained epoch. */
export function checkpointInfo(trained: TrainedModel): { path: string; epoch: number | null; lastEpoch: number | null; valLoss: number | null } {
  const t = trained.training;
  return {
    path: trained.dir,
    epoch: t?.best?.epoch ?? t?.epoch ?? null,
    lastEpoch: t?.epoch ?? null,
    valLoss: t?.best?.valLoss ?? null,
  };
}

/** Settings that must agree between a model's features.json and the features it is fed. */
const COMPARED_FEATURE_KEYS = ['layer', 'scaling', 'dim', 'locations', 'inputSize', 'weightsHash', 'grid', 'dtype', 'halfPixelCenters'] as const;

/**
 * Throws when the features a model is about to see were produced differently from the ones it was
 * trained on (fields absent from either side are not compared).
 */
export function checkFeatureCompatibility(modelFeatures: Record<string, unknown>, store: Record<string, unknown>, modelWhere: string, storeWhere: string): void {
  const problems: string[] = [];
  for (const key of COMPARED_FEATURE_KEYS) {
    if (!(key in modelFeatures) || !(key in store)) continue;
    const a = JSON.stringify(modelFeatures[key]);
    const b = JSON.stringify(store[key]);
    if (a !== b) problems.push(`${key}: model ${a}, features ${b}`);
  }
  if (problems.length > 0) {
    throw new CaptionerError(
      `${storeWhere} does not match the features the model was trained on (${modelWhere}):\n  ${problems.join('\n  ')}\n` +
        'Re-run `captioner featurize` with the model\'s settings, or retrain.',
    );
  }
}
