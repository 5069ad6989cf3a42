/**
 * A trained captioner's artifacts → the model plus what decoding needs (start/end ids, default
 * length, training bookkeeping). Browser-safe: the Node loader (node.ts) reads the folder, a page
 * fetches the same five files.
 */
import { CaptionerError, featureSetDifferences } from '@captioner/core';
import { modelFromArtifacts, type LoadedCaptionModel, type ModelArtifacts, type TrainingInfo } from '@captioner/model';
import { END_TOKEN, START_TOKEN } from '@captioner/text-clean/contract';
import { dequantizeArtifacts } from './quantize.js';

export { START_TOKEN, END_TOKEN };

/** A saved model plus what decoding needs from its vocabulary and config.json. */
export interface TrainedModel {
  dir: string;
  model: LoadedCaptionModel;
  startId: number;
  endId: number;
  /** Decoder steps allowed by default: the longest training caption's words + <eos> (vocab maxLength − 1). */
  defaultMaxSteps: number;
  /** Training bookkeeping from config.json (epoch, best epoch, …), when the model was exported by `train`. */
  training: TrainingInfo | null;
  /** True when weights.bin held quantized (uint8 and/or float16) weights, decoded to float32 on load. */
  quantized: boolean;
}

/**
 * Builds the model from its artifacts (float32, or uint8/float16-quantized weights). `dir` names the folder
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
  const training = model.training ?? null;
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

/**
 * Throws when the features a model is about to see were produced differently from the ones it was
 * trained on: core's FEATURE_COMPARED_KEYS (the settings featurize hashes, and the grid geometry);
 * fields absent from either side are not compared.
 */
export function checkFeatureCompatibility(modelFeatures: object, store: object, modelWhere: string, storeWhere: string): void {
  const problems = featureSetDifferences(modelFeatures, store).map((d) => `${d.key}: model ${d.a}, features ${d.b}`);
  if (problems.length > 0) {
    throw new CaptionerError(
      `${storeWhere} does not match the features the model was trained on (${modelWhere}):\n  ${problems.join('\n  ')}\n` +
        "Re-run `captioner featurize` with the model's settings, or retrain.",
    );
  }
}
