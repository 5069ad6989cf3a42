/**
 * Featurize one image exactly as the stage did for the images a model was trained on: the
 * manifest's input size, scaling, resize grid, layer and weights (checked by hash), and the same
 * float16 rounding when the shards are float16. Used by the caption-any-image API.
 */
import { CaptionerError, type FeatureSet } from '@captioner/core';
import type { FeatureExtractor } from './extractor.js';
import { createFeatureExtractor, type EngineName } from './engines/index.js';
import { float16ToFloat32, float32ToFloat16 } from './float16.js';
import { preprocessImage } from './preprocess.js';

export interface FeaturizeImageOptions {
  /** Engine to build when no extractor is given (default auto; features are engine-independent). */
  engine?: EngineName;
  /** Use this network instead of building one from the manifest (must match its weights hash). */
  extractor?: FeatureExtractor;
}

/**
 * The feature-set fields an image is featurized by: a featurize manifest, or a model's features.json
 * (which may predate `backbone`: the layer names it).
 */
export type ImageFeatureSettings = Pick<FeatureSet, 'layer' | 'weights' | 'weightsHash' | 'inputSize' | 'locations' | 'dim' | 'scaling' | 'halfPixelCenters' | 'dtype'> &
  Partial<Pick<FeatureSet, 'backbone'>>;

/** Built extractors by engine/backbone/layer/weights, kept for the process lifetime (loading one takes seconds). */
const extractors = new Map<string, Promise<FeatureExtractor>>();

function extractorFor(manifest: ImageFeatureSettings, engine: EngineName): Promise<FeatureExtractor> {
  const key = JSON.stringify([engine, manifest.backbone, manifest.layer, manifest.weights]);
  let p = extractors.get(key);
  if (!p) {
    p = createFeatureExtractor({ engine, backbone: manifest.backbone, layer: manifest.layer, weights: manifest.weights ?? undefined });
    p.catch(() => extractors.delete(key));
    extractors.set(key, p);
  }
  return p;
}

/** Frees the cached extractors. */
export async function disposeFeaturizeImageCache(): Promise<void> {
  const all = [...extractors.values()];
  extractors.clear();
  for (const p of all) (await p.catch(() => null))?.dispose();
}

/**
 * One image (path or encoded bytes) → float32 grid (locations x dim). Bad images throw
 * ImageDecodeError; an extractor whose weights differ from the manifest's throws CaptionerError.
 */
export async function featurizeImage(input: string | Uint8Array, manifest: ImageFeatureSettings, opts: FeaturizeImageOptions = {}): Promise<Float32Array> {
  const extractor = opts.extractor ?? (await extractorFor(manifest, opts.engine ?? 'auto'));
  if (extractor.weightsHash !== manifest.weightsHash) {
    throw new CaptionerError(
      `featurizeImage: network weights ${extractor.weightsHash.slice(0, 12)}… differ from the ones the features were computed with (${manifest.weightsHash.slice(0, 12)}…, ${manifest.weights ?? `bundled ${manifest.backbone ?? 'inception_v3'}`})`,
    );
  }
  if (extractor.inputSize !== manifest.inputSize || extractor.locations !== manifest.locations || extractor.dim !== manifest.dim) {
    throw new CaptionerError(
      `featurizeImage: network gives ${extractor.locations}x${extractor.dim} from ${extractor.inputSize}px, manifest has ${manifest.locations}x${manifest.dim} from ${manifest.inputSize}px`,
    );
  }
  const pixels = await preprocessImage(input, { inputSize: manifest.inputSize, scaling: manifest.scaling, halfPixelCenters: manifest.halfPixelCenters });
  const features = await extractor.extract(pixels, 1);
  // The model was trained on float16-rounded features when the shards are float16.
  return manifest.dtype === 'float16' ? float16ToFloat32(float32ToFloat16(features)) : features;
}
