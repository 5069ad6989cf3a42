/**
 * The featurize stage end to end with `backbone: mobilenet_v2` on real sample photos and the real
 * (bundled) network through onnxruntime: manifest fields, stored rows, the caption-time featurizer
 * reproducing them from the manifest alone, and the incremental rule across a layer change.
 */
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Int32, Table, Utf8, vectorFromArray } from 'apache-arrow';
import { featurizeSchema } from '@captioner/core';
import { workspaceRoot, writeArrowFile, writeJsonAtomic } from '@captioner/core/node';
import { runFeaturize } from './featurize.js';
import { openFeatureStore } from './store.js';
import { settingsHash } from './manifest.js';
import { disposeFeaturizeImageCache, featurizeImage } from './featurize-image.js';
import { BUNDLED_MOBILENET_TFLITE } from './engines/mobilenet-load.js';

const SAMPLE_IMAGES = join(workspaceRoot(), 'data/sample/Images');
const IMAGES = ['2157003092_eaeb977789.jpg', '1104133405_c04a00707f.jpg', '3647750811_395fbd397e.jpg'];

let root: string;
const cacheDir = mkdtempSync(join(tmpdir(), 'captioner-onnx-mnv2-'));
const previousCache = process.env.CAPTIONER_CACHE_DIR;

beforeAll(() => {
  process.env.CAPTIONER_CACHE_DIR = cacheDir;
  root = mkdtempSync(join(tmpdir(), 'featurize-mnv2-'));
  mkdirSync(join(root, 'images'));
  mkdirSync(join(root, 'stages/ingest'), { recursive: true });
  for (const image of IMAGES) copyFileSync(join(SAMPLE_IMAGES, image), join(root, 'images', image));
  writeJsonAtomic(join(root, 'stages/ingest/manifest.json'), { imagesDir: 'images' });
  writeArrowFile(
    join(root, 'stages/ingest/captions.arrow'),
    new Table({
      image: vectorFromArray(IMAGES, new Utf8()),
      caption: vectorFromArray(
        IMAGES.map(() => 'a caption'),
        new Utf8(),
      ),
      caption_index: vectorFromArray(
        IMAGES.map(() => 0),
        new Int32(),
      ),
      split: vectorFromArray(
        IMAGES.map(() => 'train'),
        new Utf8(),
      ),
    }),
  );
});
afterAll(async () => {
  await disposeFeaturizeImageCache();
  if (previousCache === undefined) delete process.env.CAPTIONER_CACHE_DIR;
  else process.env.CAPTIONER_CACHE_DIR = previousCache;
  rmSync(root, { recursive: true, force: true });
  rmSync(cacheDir, { recursive: true, force: true });
});

const run = (over: Record<string, unknown>) =>
  runFeaturize({
    ingestDir: join(root, 'stages/ingest'),
    outDir: join(root, 'stages/featurize'),
    root,
    config: featurizeSchema.parse({ backbone: 'mobilenet_v2', engine: 'onnx', batchSize: 2, ...over }),
    log: () => {},
  });

describe('featurize stage with backbone mobilenet_v2', () => {
  it('writes a manifest describing the MobileNetV2 grid, and rows featurizeImage reproduces', async () => {
    const manifest = await run({});
    const fileHash = createHash('sha256').update(readFileSync(BUNDLED_MOBILENET_TFLITE)).digest('hex');
    expect(manifest).toMatchObject({
      backbone: 'mobilenet_v2',
      layer: 'Conv_1',
      grid: [7, 7],
      locations: 49,
      dim: 1280,
      inputSize: 224,
      scaling: '-1,1',
      dtype: 'float16',
      weights: null,
      weightsHash: fileHash,
      counts: { images: 3, features: 3, computed: 3, reused: 0, failed: 0 },
    });
    expect(manifest.engine).toMatch(/^onnxruntime-node/);
    const { backbone, layer, scaling, dtype, inputSize, halfPixelCenters, alpha, weightsHash, preprocessVersion } = manifest;
    expect(manifest.settingsHash).toBe(settingsHash({ backbone, layer, scaling, dtype, inputSize, halfPixelCenters, alpha, weightsHash, preprocessVersion }));

    const store = openFeatureStore(join(root, 'stages/featurize'));
    expect(store.rowLength).toBe(49 * 1280);
    for (const image of IMAGES) {
      const row = store.get(image);
      expect(Math.max(...row)).toBeLessThanOrEqual(6);
      expect(row.some((v) => v > 1)).toBe(true);
      // The caption-time path builds its own network from the manifest (backbone, layer, weights).
      expect(Array.from(await featurizeImage(join(root, 'images', image), manifest))).toEqual(Array.from(row));
    }
  });

  it('reuses every row on a re-run and recomputes on a layer change', async () => {
    const again = await run({});
    expect(again.counts).toMatchObject({ computed: 0, reused: 3 });
    const bottleneck = await run({ layer: 'expanded_conv_16' });
    expect(bottleneck).toMatchObject({ layer: 'expanded_conv_16', grid: [7, 7], dim: 320, counts: { computed: 3, reused: 0 } });
    // The last bottleneck is linear (no ReLU): negative values are expected.
    expect(
      openFeatureStore(join(root, 'stages/featurize'))
        .get(IMAGES[0])
        .some((v) => v < 0),
    ).toBe(true);
  });

  it('refuses [0,1] scaling and inception layers for MobileNetV2', async () => {
    expect(() => featurizeSchema.parse({ backbone: 'mobilenet_v2', scaling: '0,1' })).toThrow(/trained on -1,1 pixels/);
    expect(() => featurizeSchema.parse({ backbone: 'mobilenet_v2', layer: 'mixed10' })).toThrow(/mixed10\\?" is a layer of inception_v3/);
    const bad = { ...featurizeSchema.parse({ backbone: 'mobilenet_v2' }), scaling: '0,1' as const };
    await expect(runFeaturize({ ingestDir: join(root, 'stages/ingest'), outDir: join(root, 'out2'), root, config: bad, log: () => {} })).rejects.toThrow(
      /featurize\.scaling: backbone mobilenet_v2 was trained on -1,1 pixels, not 0,1/,
    );
  });
});
