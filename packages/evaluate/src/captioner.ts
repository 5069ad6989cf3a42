import { join } from 'node:path';
import { CaptionerError, log } from '@captioner/core';
import { tf } from '@captioner/tf';
import { beamSearch, greedyDecode, type DecodeResult } from '@captioner/model';
import {
  createFeatureExtractor,
  featurizeImage,
  type EngineName,
  type FeatureExtractor,
  type FeaturizeManifest,
} from '@captioner/featurize';
import { loadTrainedModel, type TrainedModel } from './trained-model.js';

export interface CaptionOptions {
  /** Beam width; 1 = greedy decoding (default 3). */
  beam?: number;
  /** Decoder steps, counting the <eos> step (default: the vocabulary's maxLength − 1). */
  maxLength?: number;
}

export interface CaptionResult {
  /** The generated words joined by spaces (no <sos>/<eos>). */
  caption: string;
  words: string[];
  tokens: number[];
  /** attention[i]: the weights over the feature grid (row-major, `grid`) used to produce words[i]. */
  attention: Float32Array[];
  /** Sum of log-probabilities of the generated tokens, including <eos> when reached. */
  logProb: number;
  /** False when the caption was cut at maxLength before <eos>. */
  finished: boolean;
  grid: [number, number];
  method: 'greedy' | 'beam';
  beam: number;
}

export interface Captioner {
  readonly modelDir: string;
  readonly grid: [number, number];
  /** The featurize settings images are preprocessed with (from the model's features.json). */
  readonly featureSettings: FeaturizeManifest;
  /** Featurizes one image (file path or encoded bytes) exactly as for training, then decodes it. */
  caption(input: string | Uint8Array, opts?: CaptionOptions): Promise<CaptionResult>;
  /** Decodes an already-featurized grid (locations x dim float32). */
  captionFeatures(features: Float32Array, opts?: CaptionOptions): CaptionResult;
  /** Frees the model weights and the feature network (when the captioner created it). */
  dispose(): void;
}

export interface LoadCaptionerOptions {
  /** Use this feature network (its weights hash must match the model's features.json). */
  extractor?: FeatureExtractor;
  /** Engine for the feature network when none is given (default auto). */
  engine?: EngineName;
}

/**
 * Settings absent from an older features.json fall back to the featurize defaults; said once, since
 * they decide whether caption-time features equal training-time ones.
 */
const FALLBACKS = { halfPixelCenters: false, dtype: 'float32', weights: null, preprocessVersion: 1 } as const;

function featureSettingsOf(trained: TrainedModel): FeaturizeManifest {
  const recorded = trained.model.features as Record<string, unknown>;
  const missing = Object.keys(FALLBACKS).filter((k) => !(k in recorded));
  if (missing.length > 0) {
    log('caption', `${join(trained.dir, 'features.json')} does not record ${missing.join(', ')}; using the featurize defaults (${missing.map((k) => `${k}=${JSON.stringify(FALLBACKS[k as keyof typeof FALLBACKS])}`).join(', ')})`);
  }
  return { ...FALLBACKS, ...recorded } as unknown as FeaturizeManifest;
}

function gridOf(settings: FeaturizeManifest, locations: number): [number, number] {
  const g = settings.grid as unknown;
  if (Array.isArray(g) && g.length === 2 && g[0] * g[1] === locations) return [g[0], g[1]];
  const side = Math.round(Math.sqrt(locations));
  return side * side === locations ? [side, side] : [1, locations];
}

/**
 * Loads a trained model folder and the feature network it was trained with, ready to caption any
 * image. Errors (CaptionerError): missing or incomplete model folder (naming the missing file),
 * vocabulary or feature sizes that disagree between the model, its features.json and the feature
 * network, and — from caption() — inputs that are not images (naming the file).
 */
export async function loadCaptioner(modelDir: string, opts: LoadCaptionerOptions = {}): Promise<Captioner> {
  const trained = await loadTrainedModel(modelDir);
  const { model } = trained;
  let extractor: FeatureExtractor | undefined;
  try {
    const settings = featureSettingsOf(trained);
    const where = join(modelDir, 'features.json');
    extractor =
      opts.extractor ??
      (await createFeatureExtractor({ engine: opts.engine ?? 'auto', layer: settings.layer, weights: settings.weights ?? undefined }));
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
          `the feature network here has ${extractor.weightsHash.slice(0, 12)}… (${settings.weights ?? 'bundled InceptionV3'})`,
      );
    }
    if (extractor.inputSize !== settings.inputSize) {
      throw new CaptionerError(`${where}: inputSize ${settings.inputSize}, the feature network takes ${extractor.inputSize}px`);
    }
    return makeCaptioner(trained, settings, extractor, !opts.extractor);
  } catch (err) {
    model.dispose();
    if (extractor && !opts.extractor) extractor.dispose();
    throw err;
  }
}

function makeCaptioner(trained: TrainedModel, settings: FeaturizeManifest, extractor: FeatureExtractor, ownsExtractor: boolean): Captioner {
  const { model } = trained;
  const { locations, featureDim } = model.config;
  const grid = gridOf(settings, locations);
  const decode = (features: Float32Array, opts: CaptionOptions = {}): CaptionResult => {
    const beam = opts.beam ?? 3;
    if (!Number.isInteger(beam) || beam < 1) throw new CaptionerError(`beam must be a positive integer, got ${opts.beam}`);
    const maxLength = opts.maxLength ?? trained.defaultMaxSteps;
    if (features.length !== locations * featureDim) {
      throw new CaptionerError(`features hold ${features.length} values, the model expects ${locations} x ${featureDim} = ${locations * featureDim}`);
    }
    const input = tf.tensor3d(features, [1, locations, featureDim]);
    let r: DecodeResult;
    try {
      const common = { startId: trained.startId, endId: trained.endId, maxLength, words: model.words };
      r = beam === 1 ? greedyDecode(model, input, common)[0] : beamSearch(model, input, { ...common, beam })[0];
    } finally {
      input.dispose();
    }
    return {
      caption: r.words.join(' '),
      words: r.words,
      tokens: r.tokens,
      attention: r.attention,
      logProb: r.logProb,
      finished: r.finished,
      grid,
      method: beam === 1 ? 'greedy' : 'beam',
      beam,
    };
  };
  let disposed = false;
  return {
    modelDir: trained.dir,
    grid,
    featureSettings: settings,
    async caption(input, opts) {
      if (disposed) throw new CaptionerError('captioner: used after dispose()');
      const features = await featurizeImage(input, settings, { extractor });
      return decode(features, opts);
    },
    captionFeatures(features, opts) {
      if (disposed) throw new CaptionerError('captioner: used after dispose()');
      return decode(features, opts);
    },
    dispose() {
      if (disposed) return;
      disposed = true;
      model.dispose();
      if (ownsExtractor) extractor.dispose();
    },
  };
}
