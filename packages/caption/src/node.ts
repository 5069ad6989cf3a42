/** Node side: model folders on disk, the shipped pretrained model, and loadCaptioner. */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CaptionerError } from '@captioner/core';
import { log } from '@captioner/core/node';
import { readModelArtifacts } from '@captioner/model';
import { createFeatureExtractor, featurizeImage, type EngineName, type FeatureExtractor } from '@captioner/featurize';
import { featureSettingsOf, makeCaptioner, type Captioner } from './captioner.js';
import { trainedModelFromArtifacts, type TrainedModel } from './trained.js';

/** The committed pretrained captioner (src/ and dist/ are both one level below the package root). */
export const PRETRAINED_MODEL_DIR = fileURLToPath(new URL('../pretrained/flickr8k-mobilenet_v2/', import.meta.url));

/** Reads a model folder's five files (weights float32, or uint8/float16-quantized); errors name the folder or file. */
export { readModelArtifacts };

/**
 * Loads `data/stages/train/model/`, the shipped model, or any folder written by CaptionModel.save
 * (float32 or quantized). Every failure is a CaptionerError naming the folder or the file at fault.
 */
export async function loadTrainedModel(dir: string): Promise<TrainedModel> {
  if (!existsSync(dir)) throw new CaptionerError(`model folder not found: ${dir} (run \`captioner train\` first, or pass --model DIR)`);
  if (!statSync(dir).isDirectory()) throw new CaptionerError(`${dir}: expected a model folder, found a file`);
  return trainedModelFromArtifacts(readModelArtifacts(dir), dir);
}

export interface LoadCaptionerOptions {
  /** Use this feature network (its weights hash must match the model's features.json). */
  extractor?: FeatureExtractor;
  /** Engine for the feature network when none is given (default auto). */
  engine?: EngineName;
}

/**
 * Loads a trained model folder — the shipped pretrained captioner when `modelDir` is omitted — and
 * the feature network it was trained with, ready to caption any image. Errors (CaptionerError):
 * missing or incomplete model folder (naming the missing file), vocabulary or feature sizes that
 * disagree between the model, its features.json and the feature network, and — from caption() —
 * inputs that are not images (naming the file).
 */
export async function loadCaptioner(modelDir: string = PRETRAINED_MODEL_DIR, opts: LoadCaptionerOptions = {}): Promise<Captioner> {
  const trained = await loadTrainedModel(modelDir);
  const { model } = trained;
  let extractor: FeatureExtractor | undefined;
  try {
    const { settings, missing } = featureSettingsOf(model.features);
    const where = join(modelDir, 'features.json');
    if (missing.length > 0) {
      // Said once: these decide whether caption-time features equal training-time ones.
      log('caption', `${where} does not record ${missing.join(', ')}; using the featurize defaults`);
    }
    extractor = opts.extractor ?? (await createFeatureExtractor({ engine: opts.engine ?? 'auto', layer: settings.layer, weights: settings.weights ?? undefined }));
    const { locations, featureDim } = model.config;
    if (extractor.locations !== locations || extractor.dim !== featureDim) {
      throw new CaptionerError(
        `feature size mismatch: the feature network (${extractor.engine}, layer ${settings.layer}) gives ${extractor.locations} locations x ${extractor.dim} channels, ` +
          `the model in ${modelDir} expects ${locations} x ${featureDim}`,
      );
    }
    if (extractor.weightsHash !== settings.weightsHash) {
      throw new CaptionerError(
        `${where}: the model was trained on features of network weights ${String(settings.weightsHash).slice(0, 12)}…, ` +
          `the feature network here has ${extractor.weightsHash.slice(0, 12)}… (${settings.weights ?? `bundled ${settings.backbone ?? 'InceptionV3'}`})`,
      );
    }
    if (extractor.inputSize !== settings.inputSize) {
      throw new CaptionerError(`${where}: inputSize ${settings.inputSize}, the feature network takes ${extractor.inputSize}px`);
    }
    const net = extractor;
    return makeCaptioner(
      trained,
      settings,
      (input: string | Uint8Array) => featurizeImage(input, settings, { extractor: net }),
      () => {
        if (!opts.extractor) net.dispose();
      },
    );
  } catch (err) {
    model.dispose();
    if (extractor && !opts.extractor) extractor.dispose();
    throw err;
  }
}
