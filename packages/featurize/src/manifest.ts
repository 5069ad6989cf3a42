/**
 * The featurize stage's manifest.json: what the shards hold (layer, grid, dtype, preprocessing,
 * weights), where every image's row lives, and which images failed. It is written last and
 * atomically, so it is the commit point of a run: shards it does not name are not part of the output.
 * The schema is the browser-safe contract.ts; this file adds the Node side (hashing, reading).
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { FEATURE_SETTING_KEYS, parseWithSchema, type FeatureDtype, type FeatureSettings } from '@captioner/core';
import { readJson } from '@captioner/core/node';
import { featurizeManifestSchema, MANIFEST_FILE, type FeaturizeManifest } from './contract.js';

export { MANIFEST_FILE, MANIFEST_VERSION, type FeaturizeManifest, type ShardEntry, type FailedImage } from './contract.js';
export type { FeatureDtype, FeatureSettings };

/** Bumped whenever decoding/resizing changes in a way that changes pixels (invalidates all rows). */
export const PREPROCESS_VERSION = 1;

/** sha256 of the feature settings (FEATURE_SETTING_KEYS, in that order; other fields ignored). */
export function settingsHash(settings: FeatureSettings): string {
  const canonical = Object.fromEntries(FEATURE_SETTING_KEYS.map((k) => [k, settings[k]]));
  return createHash('sha256').update(JSON.stringify(canonical)).digest('hex');
}

/** Validates parsed manifest JSON; every problem names the file and the field. */
export function validateManifest(raw: unknown, path: string): FeaturizeManifest {
  return parseWithSchema(raw, featurizeManifestSchema, path);
}

/** Reads and validates `<dir>/manifest.json`; a clear error when it is missing or malformed. */
export function readFeaturizeManifest(dir: string): FeaturizeManifest {
  return readJson(join(dir, MANIFEST_FILE), featurizeManifestSchema, 'featurize');
}
