/**
 * featurize's file contract, browser-safe: manifest.json. It extends the feature set (core's
 * `featureSetSchema`: the settings that identify the features, FEATURE_SETTING_KEYS, which
 * `settingsHash` hashes, plus their geometry) with the run's shards, failures and statistics.
 */
import * as z from 'zod';
import { FEATURE_BACKBONES, featureSetSchema } from '@captioner/core';

export const MANIFEST_FILE = 'manifest.json';
export const MANIFEST_VERSION = 1;

const count = z.number().int().min(0);

const shardEntrySchema = z
  .object({
    file: z.string().regex(/^[\w.-]+\.arrow$/, 'must be a plain .arrow file name'),
    rows: count,
    bytes: count,
    /** Row order of the shard's `image` column, and each image's content hash (sha256 of the file). */
    images: z.array(z.string()),
    hashes: z.array(z.string()),
  })
  .superRefine((s, ctx) => {
    if (s.images.length !== s.rows) ctx.addIssue({ code: 'custom', path: ['images'], message: `must list ${s.rows} image names, has ${s.images.length}` });
    if (s.hashes.length !== s.rows) ctx.addIssue({ code: 'custom', path: ['hashes'], message: `must list ${s.rows} hashes, has ${s.hashes.length}` });
  });
export type ShardEntry = z.infer<typeof shardEntrySchema>;

const failedImageSchema = z.object({ image: z.string(), reason: z.string() });
export type FailedImage = z.infer<typeof failedImageSchema>;

/** manifest.json: written last and atomically, the commit point of a featurize run. */
export const featurizeManifestSchema = featureSetSchema
  .extend({
    version: z.number().refine((v) => v === MANIFEST_VERSION, { error: (i) => `is ${JSON.stringify(i.input)}, this reader understands ${MANIFEST_VERSION}` }),
    /** sha256 of the canonical FeatureSettings JSON: rows are reused only under the same value. */
    settingsHash: z.string(),
    /** Engine that computed the new rows of the last run (features are engine-independent). */
    engine: z.string(),
    shards: z.array(shardEntrySchema),
    failed: z.array(failedImageSchema),
    counts: z.object({ images: count, features: count, computed: count, reused: count, failed: count }),
    timeSec: z.number(),
    /** Seconds spent decoding + running the network on new images. */
    computeSec: z.number(),
    /** New images per second of computeSec (0 when nothing was computed). */
    imagesPerSec: z.number(),
    peakRssMiB: z.number(),
    createdAt: z.string(),
  })
  .superRefine((m, ctx) => {
    const layers: readonly string[] = FEATURE_BACKBONES[m.backbone].layers;
    if (!layers.includes(m.layer)) ctx.addIssue({ code: 'custom', path: ['layer'], message: `must be a layer of ${m.backbone} (${layers.join(', ')}), got "${m.layer}"` });
    if (m.grid[0] * m.grid[1] !== m.locations) ctx.addIssue({ code: 'custom', path: ['grid'], message: `does not multiply to locations (${m.locations})` });
    const seen = new Set<string>();
    m.shards.forEach((s, i) => {
      for (const image of s.images) {
        if (seen.has(image)) ctx.addIssue({ code: 'custom', path: ['shards', i, 'images'], message: `repeats "${image}" (already in an earlier row)` });
        seen.add(image);
      }
    });
  });
export type FeaturizeManifest = z.infer<typeof featurizeManifestSchema>;
