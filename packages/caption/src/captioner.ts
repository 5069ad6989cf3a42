/**
 * The captioner itself, independent of where features come from: decode a feature grid greedily or
 * with beam search (evaluate's decode options), and caption an image through an injected
 * featurizer (Node: featurize's featurizeImage; browser: MobileNetV2 on TF.js). Browser-safe.
 */
import { CaptionerError, type FeatureSet } from '@captioner/core';
import { tf } from '@captioner/tf';
import { beamSearch, greedyDecode, type DecodeResult, type FeatureInfo } from '@captioner/model';
import type { TrainedModel } from './trained.js';

export interface CaptionOptions {
  /** Beam width; 1 = greedy decoding (default 3). */
  beam?: number;
  /** Decoder steps, counting the <eos> step (default: the vocabulary's maxLength − 1). */
  maxLength?: number;
  /** Beam score = logProb / length^lengthPenalty (default 1, as evaluate.lengthPenalty). */
  lengthPenalty?: number;
  /** Never repeat an n-gram of this size within a caption, greedy and beam (default 0 = off, as evaluate.noRepeatNgram). */
  noRepeatNgram?: number;
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

/**
 * The featurize settings recorded with a model (features.json, the model package's contract), with
 * the featurize defaults filled in for the fields older models did not record.
 */
export type FeatureSettings = FeatureInfo & Pick<FeatureSet, keyof typeof FEATURE_FALLBACKS>;

export interface Captioner<Input = string | Uint8Array> {
  readonly modelDir: string;
  readonly grid: [number, number];
  /** The featurize settings images are preprocessed with (from the model's features.json). */
  readonly featureSettings: FeatureSettings;
  /** True when the model's weights were stored uint8-quantized. */
  readonly quantized: boolean;
  /** Featurizes one image exactly as for training, then decodes it. */
  caption(input: Input, opts?: CaptionOptions): Promise<CaptionResult>;
  /** The image's feature grid (locations x dim float32) as caption() computes it: decode it several ways with captionFeatures. */
  featurize(input: Input): Promise<Float32Array>;
  /** Decodes an already-featurized grid (locations x dim float32). */
  captionFeatures(features: Float32Array, opts?: CaptionOptions): CaptionResult;
  /** Frees the model weights and the feature network (when the captioner created it). */
  dispose(): void;
}

/** Settings absent from an older features.json: the featurize defaults. */
export const FEATURE_FALLBACKS = { halfPixelCenters: false, dtype: 'float32', weights: null, preprocessVersion: 1 } as const satisfies Partial<FeatureSet>;

/** features.json with the defaults filled in, and the names of the fields that were absent. */
export function featureSettingsOf(recorded: FeatureInfo): { settings: FeatureSettings; missing: string[] } {
  const missing = Object.keys(FEATURE_FALLBACKS).filter((k) => !(k in recorded));
  return { settings: { ...FEATURE_FALLBACKS, ...recorded }, missing };
}

export function gridOf(settings: FeatureSettings, locations: number): [number, number] {
  const g = settings.grid as unknown;
  if (Array.isArray(g) && g.length === 2 && g[0] * g[1] === locations) return [g[0], g[1]];
  const side = Math.round(Math.sqrt(locations));
  return side * side === locations ? [side, side] : [1, locations];
}

/** Decodes one feature grid with the model (greedy when beam is 1). */
export function decodeFeatures(trained: TrainedModel, grid: [number, number], features: Float32Array, opts: CaptionOptions = {}): CaptionResult {
  const { model } = trained;
  const { locations, featureDim } = model.config;
  const beam = opts.beam ?? 3;
  if (!Number.isInteger(beam) || beam < 1) throw new CaptionerError(`beam must be a positive integer, got ${opts.beam}`);
  const maxLength = opts.maxLength ?? trained.defaultMaxSteps;
  if (features.length !== locations * featureDim) {
    throw new CaptionerError(`features hold ${features.length} values, the model expects ${locations} x ${featureDim} = ${locations * featureDim}`);
  }
  const input = tf.tensor3d(features, [1, locations, featureDim]); // [1, L, D]
  let r: DecodeResult;
  try {
    const common = { startId: trained.startId, endId: trained.endId, maxLength, words: model.words, noRepeatNgram: opts.noRepeatNgram ?? 0 };
    r = beam === 1 ? greedyDecode(model, input, common)[0] : beamSearch(model, input, { ...common, beam, lengthPenalty: opts.lengthPenalty ?? 1 })[0];
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
}

/**
 * A captioner over a loaded model and a featurizer (input → locations x dim float32, already rounded
 * as the training features were). `release` frees what the captioner owns besides the model.
 */
export function makeCaptioner<Input>(
  trained: TrainedModel,
  settings: FeatureSettings,
  featurize: (input: Input) => Promise<Float32Array>,
  release: () => void = () => {},
): Captioner<Input> {
  const grid = gridOf(settings, trained.model.config.locations);
  let disposed = false;
  const alive = () => {
    if (disposed) throw new CaptionerError('captioner: used after dispose()');
  };
  return {
    modelDir: trained.dir,
    grid,
    featureSettings: settings,
    quantized: trained.quantized,
    async caption(input, opts) {
      alive();
      const features = await featurize(input);
      return decodeFeatures(trained, grid, features, opts);
    },
    async featurize(input) {
      alive();
      return featurize(input);
    },
    captionFeatures(features, opts) {
      alive();
      return decodeFeatures(trained, grid, features, opts);
    },
    dispose() {
      if (disposed) return;
      disposed = true;
      trained.model.dispose();
      release();
    },
  };
}
