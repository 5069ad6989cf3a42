/**
 * The featurize stage's manifest.json: what the shards hold (layer, grid, dtype, preprocessing,
 * weights), where every image's row lives, and which images failed. It is written last and
 * atomically, so it is the commit point of a run: shards it does not name are not part of the output.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CaptionerError } from '@captioner/core';
import { FEATURE_BACKBONES } from '@captioner/core';
import type { FeatureBackbone, FeatureLayer, PixelScaling } from './extractor.js';

export const MANIFEST_FILE = 'manifest.json';
export const MANIFEST_VERSION = 1;
/** Bumped whenever decoding/resizing changes in a way that changes pixels (invalidates all rows). */
export const PREPROCESS_VERSION = 1;

export type FeatureDtype = 'float16' | 'float32';

export interface ShardEntry {
  file: string;
  rows: number;
  bytes: number;
  /** Row order of the shard's `image` column, and each image's content hash (sha256 of the file). */
  images: string[];
  hashes: string[];
}

export interface FailedImage {
  image: string;
  reason: string;
}

/** Everything that determines the feature values of an image with given bytes (engine excluded). */
export interface FeatureSettings {
  backbone: FeatureBackbone;
  layer: FeatureLayer;
  scaling: PixelScaling;
  dtype: FeatureDtype;
  inputSize: number;
  halfPixelCenters: boolean;
  /** How transparency is handled: the alpha channel is discarded (see preprocess.ts). */
  alpha: 'dropped';
  weightsHash: string;
  preprocessVersion: number;
}

export interface FeaturizeManifest extends FeatureSettings {
  version: number;
  grid: [number, number];
  locations: number;
  dim: number;
  /** sha256 of the canonical FeatureSettings JSON: rows are reused only under the same value. */
  settingsHash: string;
  /** Absolute TF.js model folder (inception_v3) or .tflite file (mobilenet_v2), or null for the bundled weights. */
  weights: string | null;
  /** Engine that computed the new rows of the last run (features are engine-independent). */
  engine: string;
  shards: ShardEntry[];
  failed: FailedImage[];
  counts: { images: number; features: number; computed: number; reused: number; failed: number };
  timeSec: number;
  /** Seconds spent decoding + running the network on new images. */
  computeSec: number;
  /** New images per second of computeSec (0 when nothing was computed). */
  imagesPerSec: number;
  peakRssMiB: number;
  createdAt: string;
}

export function settingsHash(settings: FeatureSettings): string {
  const canonical: FeatureSettings = {
    backbone: settings.backbone,
    layer: settings.layer,
    scaling: settings.scaling,
    dtype: settings.dtype,
    inputSize: settings.inputSize,
    halfPixelCenters: settings.halfPixelCenters,
    alpha: settings.alpha,
    weightsHash: settings.weightsHash,
    preprocessVersion: settings.preprocessVersion,
  };
  return createHash('sha256').update(JSON.stringify(canonical)).digest('hex');
}

function fail(path: string, field: string, problem: string): never {
  throw new CaptionerError(`${path}: field "${field}" ${problem}`);
}

const isString = (v: unknown): v is string => typeof v === 'string';
const isCount = (v: unknown): v is number => Number.isInteger(v) && (v as number) >= 0;

/** Validates parsed manifest JSON; every problem names the file and the field. */
export function validateManifest(raw: unknown, path: string): FeaturizeManifest {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new CaptionerError(`${path}: not a JSON object`);
  const m = raw as Record<string, unknown>;
  if (m.version !== MANIFEST_VERSION) fail(path, 'version', `is ${JSON.stringify(m.version)}, this reader understands ${MANIFEST_VERSION}`);
  for (const key of ['layer', 'scaling', 'dtype', 'weightsHash', 'settingsHash', 'backbone', 'engine']) {
    if (!isString(m[key])) fail(path, key, 'must be a string');
  }
  const backbones = FEATURE_BACKBONES as Record<string, { layers: readonly string[] }>;
  if (!Object.hasOwn(backbones, m.backbone as string)) fail(path, 'backbone', `must be one of ${Object.keys(backbones).join(', ')}, got ${JSON.stringify(m.backbone)}`);
  if (!backbones[m.backbone as string].layers.includes(m.layer as string)) {
    fail(path, 'layer', `must be a layer of ${String(m.backbone)} (${backbones[m.backbone as string].layers.join(', ')}), got ${JSON.stringify(m.layer)}`);
  }
  if (m.dtype !== 'float16' && m.dtype !== 'float32') fail(path, 'dtype', `must be "float16" or "float32", got ${JSON.stringify(m.dtype)}`);
  if (m.scaling !== '0,1' && m.scaling !== '-1,1') fail(path, 'scaling', `must be "0,1" or "-1,1", got ${JSON.stringify(m.scaling)}`);
  for (const key of ['locations', 'dim', 'inputSize', 'preprocessVersion']) {
    if (!isCount(m[key]) || m[key] === 0) fail(path, key, 'must be a positive integer');
  }
  if (!Array.isArray(m.grid) || m.grid.length !== 2 || !m.grid.every(isCount)) fail(path, 'grid', 'must be [rows, cols]');
  if ((m.grid as number[])[0] * (m.grid as number[])[1] !== m.locations) fail(path, 'grid', `does not multiply to locations (${String(m.locations)})`);
  if (typeof m.halfPixelCenters !== 'boolean') fail(path, 'halfPixelCenters', 'must be a boolean');
  if (m.weights !== null && !isString(m.weights)) fail(path, 'weights', 'must be a string or null');
  if (!Array.isArray(m.shards)) fail(path, 'shards', 'must be an array');
  const seen = new Set<string>();
  (m.shards as unknown[]).forEach((s, i) => {
    const field = `shards[${i}]`;
    if (!s || typeof s !== 'object') fail(path, field, 'must be an object');
    const e = s as Record<string, unknown>;
    if (!isString(e.file) || !/^[\w.-]+\.arrow$/.test(e.file)) fail(path, `${field}.file`, 'must be a plain .arrow file name');
    if (!isCount(e.rows)) fail(path, `${field}.rows`, 'must be a non-negative integer');
    if (!isCount(e.bytes)) fail(path, `${field}.bytes`, 'must be a non-negative integer');
    if (!Array.isArray(e.images) || e.images.length !== e.rows || !e.images.every(isString)) {
      fail(path, `${field}.images`, `must list ${String(e.rows)} image names`);
    }
    if (!Array.isArray(e.hashes) || e.hashes.length !== e.rows || !e.hashes.every(isString)) {
      fail(path, `${field}.hashes`, `must list ${String(e.rows)} hashes`);
    }
    for (const image of e.images as string[]) {
      if (seen.has(image)) fail(path, `${field}.images`, `repeats "${image}" (already in an earlier row)`);
      seen.add(image);
    }
  });
  if (!Array.isArray(m.failed) || !m.failed.every((f) => f && isString(f.image) && isString(f.reason))) {
    fail(path, 'failed', 'must be an array of {image, reason}');
  }
  return m as unknown as FeaturizeManifest;
}

/** Reads and validates `<dir>/manifest.json`; a clear error when it is missing or malformed. */
export function readFeaturizeManifest(dir: string): FeaturizeManifest {
  const path = join(dir, MANIFEST_FILE);
  if (!existsSync(path)) {
    throw new CaptionerError(`missing ${path} (run \`captioner featurize\` first)`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new CaptionerError(`${path}: not valid JSON: ${(err as Error).message}`);
  }
  return validateManifest(raw, path);
}
