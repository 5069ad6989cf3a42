/**
 * The identity of a feature set, browser-safe. featurize writes it into its manifest.json (the
 * contract is featurize's `featurizeManifestSchema`, which extends this), a saved model records it
 * in features.json, and caption/evaluate compare it before feeding a model features. It lives here,
 * beside the config's name lists it is built from, because the model library reads it too and
 * libraries do not import stages.
 */
import * as z from 'zod';
import { FEATURE_BACKBONE_NAMES, FEATURE_DTYPES, FEATURE_LAYER_NAMES, PIXEL_SCALING_NAMES } from './config.js';

const positiveInt = z.number().int().min(1);
const count = z.number().int().min(0);

/** Everything that determines the feature values of an image with given bytes (engine excluded). */
export const featureSettingsSchema = z.object({
  backbone: z.enum(FEATURE_BACKBONE_NAMES),
  layer: z.enum(FEATURE_LAYER_NAMES),
  scaling: z.enum(PIXEL_SCALING_NAMES),
  dtype: z.enum(FEATURE_DTYPES),
  inputSize: positiveInt,
  halfPixelCenters: z.boolean(),
  /** How transparency is handled: the alpha channel is discarded (featurize's preprocess.ts). */
  alpha: z.literal('dropped'),
  weightsHash: z.string(),
  /** Bumped whenever decoding/resizing changes pixels. */
  preprocessVersion: positiveInt,
});
export type FeatureSettings = z.infer<typeof featureSettingsSchema>;

/** The fields that identify a feature set: featurize's settingsHash hashes exactly these, in this order. */
export const FEATURE_SETTING_KEYS = featureSettingsSchema.keyof().options;

/** A feature set: its settings, the geometry they give, and the weights file that was used. */
export const featureSetSchema = featureSettingsSchema.extend({
  grid: z.tuple([count, count]),
  locations: positiveInt,
  dim: positiveInt,
  /** Absolute TF.js model folder (inception_v3) or .tflite file (mobilenet_v2), or null for the bundled weights. */
  weights: z.string().nullable(),
});
export type FeatureSet = z.infer<typeof featureSetSchema>;

/** Fields compared before a model is fed features: the settings and the geometry (not the weights path, which is per machine). */
export const FEATURE_COMPARED_KEYS = [...FEATURE_SETTING_KEYS, 'grid', 'locations', 'dim'] as const;

/** The feature-set fields of a manifest (or anything carrying them), other fields dropped: e.g. a model's features.json. */
export function featureSetOf(source: FeatureSet): FeatureSet {
  return featureSetSchema.parse(source);
}

/**
 * Every compared field whose values differ (as JSON); fields absent from either side (an older
 * features.json) are not compared.
 */
export function featureSetDifferences(a: object, b: object): { key: (typeof FEATURE_COMPARED_KEYS)[number]; a: string; b: string }[] {
  const x = a as Record<string, unknown>;
  const y = b as Record<string, unknown>;
  return FEATURE_COMPARED_KEYS.filter((key) => key in x && key in y)
    .map((key) => ({ key, a: JSON.stringify(x[key]), b: JSON.stringify(y[key]) }))
    .filter((d) => d.a !== d.b);
}
