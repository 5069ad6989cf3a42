import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import sharp from 'sharp';
import { featurizeSchema, type FeaturizeConfig } from '@captioner/core';
import { writeArrowFile, writeJsonAtomic } from '@captioner/core/node';
import { captionsTable } from '@captioner/ingest';
import { runFeaturize } from './featurize.js';
import { openFeatureStore } from './store.js';
import { preprocessImage } from './preprocess.js';
import { float16ToFloat32, float32ToFloat16 } from './float16.js';
import { readFeaturizeManifest, type FeaturizeManifest } from './manifest.js';
import { featurizeImage } from './featurize-image.js';
import { createTinyExtractor, type TinyExtractor } from './tiny-extractor.fixture.js';

let base: string;
let extractor: TinyExtractor;

beforeAll(async () => {
  base = mkdtempSync(join(tmpdir(), 'featurize-stage-'));
  extractor = await createTinyExtractor();
});
afterAll(() => {
  extractor.dispose();
  rmSync(base, { recursive: true, force: true });
});

/** A noise image whose content depends on `seed`. */
async function noiseJpeg(seed: number, size = 24): Promise<Buffer> {
  const data = Buffer.alloc(size * size * 3);
  let s = seed * 2654435761;
  for (let i = 0; i < data.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    data[i] = s >>> 24;
  }
  return sharp(data, { raw: { width: size, height: size, channels: 3 } })
    .jpeg({ quality: 90 })
    .toBuffer();
}

interface Workspace {
  root: string;
  imagesDir: string;
  ingestDir: string;
  outDir: string;
}

let counter = 0;
function newWorkspace(): Workspace {
  const root = join(base, `ws${counter++}`);
  const ws = { root, imagesDir: join(root, 'images'), ingestDir: join(root, 'stages/ingest'), outDir: join(root, 'stages/featurize') };
  mkdirSync(ws.imagesDir, { recursive: true });
  mkdirSync(ws.ingestDir, { recursive: true });
  // Relative to the workspace root, as ingest writes it.
  writeJsonAtomic(join(ws.ingestDir, 'manifest.json'), { imagesDir: 'images', layout: 'kaggle', splitSource: 'random' });
  return ws;
}

/** captions.arrow with two captions per image (so images repeat, as in the real data). */
function writeCaptions(ws: Workspace, images: string[]): void {
  const rows = images.flatMap((image) => [0, 1].map((captionIndex) => ({ image, caption: `a caption ${captionIndex}`, captionIndex, split: 'train' as const })));
  writeArrowFile(join(ws.ingestDir, 'captions.arrow'), captionsTable(rows));
}

async function addImages(ws: Workspace, names: string[], seedBase = 0): Promise<void> {
  for (const [i, name] of names.entries()) writeFileSync(join(ws.imagesDir, name), await noiseJpeg(seedBase + i + 1));
}

const config = (over: Partial<FeaturizeConfig> = {}): FeaturizeConfig => featurizeSchema.parse({ layer: 'mixed10', batchSize: 3, imagesPerShard: 4, ...over }); // the tiny extractor stands in for InceptionV3 mixed10

async function run(ws: Workspace, over: Partial<FeaturizeConfig> = {}, ex: TinyExtractor = extractor): Promise<{ manifest: FeaturizeManifest; computed: number; calls: number }> {
  const [images0, calls0] = [ex.imagesSeen, ex.calls];
  const manifest = await runFeaturize({ ingestDir: ws.ingestDir, outDir: ws.outDir, root: ws.root, config: config(over), extractor: ex, log: () => {} });
  return { manifest, computed: ex.imagesSeen - images0, calls: ex.calls - calls0 };
}

/** What the store must return for an image: the network on the preprocessed pixels, float16-rounded. */
async function expectedFeatures(ws: Workspace, image: string, dtype: 'float16' | 'float32' = 'float16'): Promise<Float32Array> {
  const pixels = await preprocessImage(join(ws.imagesDir, image), { inputSize: 299, scaling: '0,1' });
  const out = await extractor.extract(pixels, 1);
  return dtype === 'float16' ? float16ToFloat32(float32ToFloat16(out)) : out;
}

const names = (n: number, from = 0) => Array.from({ length: n }, (_, i) => `img${String(i + from).padStart(3, '0')}.jpg`);
const filesIn = (dir: string) => readdirSync(dir).sort();
const shardFiles = (dir: string) => filesIn(dir).filter((f) => f.endsWith('.arrow'));

describe('runFeaturize', () => {
  let ws: Workspace;
  beforeEach(() => {
    ws = newWorkspace();
  });

  it('writes shards + manifest that the store reads back exactly', async () => {
    const images = names(10);
    await addImages(ws, images);
    writeCaptions(ws, images);
    const { manifest, computed, calls } = await run(ws);
    expect(computed).toBe(10);
    expect(calls).toBe(4); // batches of 3
    expect(manifest.shards.map((s) => s.rows)).toEqual([4, 4, 2]);
    expect(manifest.counts).toEqual({ images: 10, features: 10, computed: 10, reused: 0, failed: 0 });
    expect(manifest).toMatchObject({ layer: 'mixed10', dtype: 'float16', scaling: '0,1', inputSize: 299, grid: [2, 2], locations: 4, dim: 8, weights: null });
    expect(manifest.weightsHash).toBe(extractor.weightsHash);
    expect(manifest.imagesPerSec).toBeGreaterThan(0);
    expect(manifest.peakRssMiB).toBeGreaterThan(0);
    // Only final files: no temp files.
    expect(filesIn(ws.outDir)).toEqual(['features-00000.arrow', 'features-00001.arrow', 'features-00002.arrow', 'manifest.json']);

    const store = openFeatureStore(ws.outDir, { memoryBudgetMiB: 1 });
    expect([...store.images]).toEqual(images);
    expect(store.rowLength).toBe(32);
    for (const image of images) {
      expect(store.has(image)).toBe(true);
      expect(Array.from(store.get(image))).toEqual(Array.from(await expectedFeatures(ws, image)));
    }
    const batch = store.getBatch([images[9], images[0], images[5]]);
    expect(Array.from(batch)).toEqual([...store.get(images[9]), ...store.get(images[0]), ...store.get(images[5])]);
    expect(() => store.get('nope.jpg')).toThrow(/nope\.jpg: not in the feature store .*manifest\.json/);
  });

  it('float32 dtype stores the network output unrounded', async () => {
    const images = names(3);
    await addImages(ws, images);
    writeCaptions(ws, images);
    await run(ws, { dtype: 'float32' });
    const store = openFeatureStore(ws.outDir);
    expect(store.manifest.dtype).toBe('float32');
    expect(Array.from(store.get(images[1]))).toEqual(Array.from(await expectedFeatures(ws, images[1], 'float32')));
  });

  it('records bad images with reasons, keeps going, and the store skips them', async () => {
    const good = names(4);
    await addImages(ws, good);
    writeFileSync(join(ws.imagesDir, 'empty.jpg'), '');
    writeFileSync(join(ws.imagesDir, 'text.jpg'), 'just some text, not a JPEG\n');
    writeFileSync(join(ws.imagesDir, 'corrupt.jpg'), Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.alloc(500, 0x5a)]));
    const big = await noiseJpeg(99, 64);
    writeFileSync(join(ws.imagesDir, 'truncated.jpg'), big.subarray(0, Math.floor(big.length * 0.6)));
    const bad = ['empty.jpg', 'text.jpg', 'corrupt.jpg', 'truncated.jpg', 'missing.jpg'];
    writeCaptions(ws, [good[0], ...bad.slice(0, 2), good[1], good[2], ...bad.slice(2), good[3]]);
    const { manifest, computed } = await run(ws);
    expect(computed).toBe(4);
    expect(manifest.counts).toMatchObject({ images: 9, features: 4, failed: 5 });
    const reasons = Object.fromEntries(manifest.failed.map((f) => [f.image, f.reason]));
    expect(Object.keys(reasons).sort()).toEqual([...bad].sort());
    expect(reasons['empty.jpg']).toMatch(/^empty/);
    expect(reasons['text.jpg']).toMatch(/^not-an-image/);
    expect(reasons['corrupt.jpg']).toMatch(/^corrupt/);
    expect(reasons['truncated.jpg']).toMatch(/^corrupt/);
    expect(reasons['missing.jpg']).toBe('missing: file not found');

    const store = openFeatureStore(ws.outDir);
    expect([...store.images]).toEqual(good);
    expect(store.failed).toHaveLength(5);
    for (const b of bad) expect(store.has(b)).toBe(false);
    expect(() => store.get('truncated.jpg')).toThrow(/truncated\.jpg: no features, featurize failed on it \(corrupt/);
  });

  it('re-runs incrementally: reuses unchanged rows, computes only new or changed images', async () => {
    const images = names(10);
    await addImages(ws, images);
    writeCaptions(ws, images);
    const first = await run(ws);
    expect(first.computed).toBe(10);
    const inode = (f: string) => statSync(join(ws.outDir, f)).ino;
    const firstInodes = first.manifest.shards.map((s) => inode(s.file));

    // Nothing changed: nothing computed, every shard kept byte-for-byte (same files).
    const again = await run(ws);
    expect(again.computed).toBe(0);
    expect(again.calls).toBe(0);
    expect(again.manifest.counts).toMatchObject({ computed: 0, reused: 10, features: 10 });
    expect(again.manifest.shards.map((s) => s.file)).toEqual(first.manifest.shards.map((s) => s.file));
    expect(again.manifest.shards.map((s) => inode(s.file))).toEqual(firstInodes);

    // Two new images and one changed one: exactly three computed.
    const added = names(2, 10);
    await addImages(ws, added, 100);
    writeFileSync(join(ws.imagesDir, images[5]), await noiseJpeg(555));
    writeCaptions(ws, [...images, ...added]);
    const third = await run(ws);
    expect(third.computed).toBe(3);
    expect(third.manifest.counts).toMatchObject({ images: 12, features: 12, computed: 3, reused: 9 });
    // Shard 0 (img000-003) untouched; shard 1 held the changed img005 → repacked; the 2-row shard → repacked.
    expect(third.manifest.shards[0].file).toBe('features-00000.arrow');
    expect(inode('features-00000.arrow')).toBe(firstInodes[0]);
    expect(shardFiles(ws.outDir)).toEqual(third.manifest.shards.map((s) => s.file).sort());
    const store = openFeatureStore(ws.outDir);
    expect([...store.images].sort()).toEqual([...images, ...added].sort());
    for (const image of [...images, ...added]) expect(Array.from(store.get(image))).toEqual(Array.from(await expectedFeatures(ws, image)));

    // An image dropped from the captions disappears from the store without recomputing anything.
    writeCaptions(ws, [...images.slice(1), ...added]);
    const fourth = await run(ws);
    expect(fourth.computed).toBe(0);
    const after = openFeatureStore(ws.outDir);
    expect(after.has(images[0])).toBe(false);
    expect(after.images).toHaveLength(11);
    expect(Array.from(after.get(images[1]))).toEqual(Array.from(await expectedFeatures(ws, images[1])));
    expect(shardFiles(ws.outDir)).toEqual(fourth.manifest.shards.map((s) => s.file).sort());
  });

  it('recomputes everything when a setting in the settings hash changes', async () => {
    const images = names(4);
    await addImages(ws, images);
    writeCaptions(ws, images);
    await run(ws);
    const scaled = await run(ws, { scaling: '-1,1' });
    expect(scaled.computed).toBe(4);
    const pixelGrid = await run(ws, { scaling: '-1,1', halfPixelCenters: true });
    expect(pixelGrid.computed).toBe(4);
    expect(pixelGrid.manifest.settingsHash).not.toBe(scaled.manifest.settingsHash);
    // Batch size and shard size are not settings: nothing is recomputed.
    const resized = await run(ws, { scaling: '-1,1', halfPixelCenters: true, batchSize: 7, imagesPerShard: 2 });
    expect(resized.computed).toBe(0);
  });

  it('a run that fails midway leaves the previous output intact and no stray files', async () => {
    const images = names(8);
    await addImages(ws, images);
    writeCaptions(ws, images);
    await run(ws);
    const before = new Map(filesIn(ws.outDir).map((f) => [f, readFileSync(join(ws.outDir, f))]));

    const more = names(9, 8);
    await addImages(ws, more, 50);
    writeCaptions(ws, [...images, ...more]);
    const failing = await createTinyExtractor();
    failing.failOnCall = 3; // after two batches (6 rows → one complete 4-row shard already renamed into place)
    await expect(run(ws, {}, failing)).rejects.toThrow(/simulated engine failure/);
    failing.dispose();

    expect(filesIn(ws.outDir)).toEqual([...before.keys()]);
    for (const [f, bytes] of before) expect(readFileSync(join(ws.outDir, f)).equals(bytes)).toBe(true);
    const store = openFeatureStore(ws.outDir);
    expect([...store.images]).toEqual(images);

    // And the next good run picks up from there.
    const next = await run(ws);
    expect(next.computed).toBe(9);
    expect(openFeatureStore(ws.outDir).images).toHaveLength(17);
  });

  it('cleans up leftovers of a crashed run (temp files, unreferenced shards)', async () => {
    const images = names(3);
    await addImages(ws, images);
    writeCaptions(ws, images);
    await run(ws);
    writeFileSync(join(ws.outDir, '.features-00007.arrow.123.abcd.tmp'), 'partial');
    writeFileSync(join(ws.outDir, 'features-00009.arrow'), 'orphan from a crashed run');
    const { computed } = await run(ws);
    expect(computed).toBe(0);
    expect(filesIn(ws.outDir)).toEqual(['features-00000.arrow', 'manifest.json']);
  });

  it('fails clearly on missing inputs', async () => {
    await expect(run(ws)).rejects.toThrow(/missing input .*captions\.arrow.*captioner ingest/);
    writeCaptions(ws, ['a.jpg']);
    writeFileSync(join(ws.ingestDir, 'manifest.json'), '{"layout":"kaggle"}');
    await expect(run(ws)).rejects.toThrow(/manifest\.json: field "imagesDir"/);
    writeFileSync(join(ws.ingestDir, 'manifest.json'), '{"imagesDir":"no/such/dir"}');
    await expect(run(ws)).rejects.toThrow(/imagesDir .*no\/such\/dir does not exist/);
    writeCaptions(ws, ['ok.jpg', '../outside.jpg']);
    await expect(run(ws)).rejects.toThrow(/captions\.arrow: row 2: image "\.\.\/outside\.jpg" must be a path inside the images folder/);
  });
});

describe('openFeatureStore errors', () => {
  it('names the missing manifest', () => {
    const dir = join(base, 'empty-store');
    mkdirSync(dir, { recursive: true });
    expect(() => openFeatureStore(dir)).toThrow(new RegExp(`missing input ${dir}/manifest\\.json \\(run \`captioner featurize\``));
  });

  it('names a missing or altered shard and a malformed manifest', async () => {
    const ws = newWorkspace();
    const images = names(5);
    await addImages(ws, images);
    writeCaptions(ws, images);
    await run(ws);
    const manifestPath = join(ws.outDir, 'manifest.json');
    const good = readFileSync(manifestPath, 'utf8');

    const m = JSON.parse(good);
    m.shards[1].images[0] = 'renamed.jpg';
    writeFileSync(manifestPath, JSON.stringify(m));
    const store = openFeatureStore(ws.outDir);
    expect(() => store.get('renamed.jpg')).toThrow(/features-00001\.arrow: row 0 is "img004\.jpg", manifest\.json says "renamed\.jpg"/);

    writeFileSync(manifestPath, JSON.stringify({ ...JSON.parse(good), dim: 'x' }));
    expect(() => openFeatureStore(ws.outDir)).toThrow(/manifest\.json: field "dim": Invalid input: expected number, received string/);
    writeFileSync(manifestPath, '{ not json');
    expect(() => openFeatureStore(ws.outDir)).toThrow(/manifest\.json: not valid JSON/);

    writeFileSync(manifestPath, good);
    unlinkSync(join(ws.outDir, 'features-00000.arrow'));
    expect(() => openFeatureStore(ws.outDir)).toThrow(/manifest\.json lists features-00000\.arrow, which is missing/);
    expect(readFeaturizeManifest(ws.outDir).shards).toHaveLength(2);
  });
});

describe('featurizeImage', () => {
  it('reproduces the stored features for an image featurized by the stage', async () => {
    const ws = newWorkspace();
    const images = names(2);
    await addImages(ws, images);
    writeCaptions(ws, images);
    const { manifest } = await run(ws, { scaling: '-1,1' });
    const store = openFeatureStore(ws.outDir);
    const bytes = readFileSync(join(ws.imagesDir, images[1]));
    expect(Array.from(await featurizeImage(bytes, manifest, { extractor }))).toEqual(Array.from(store.get(images[1])));
  });

  it('refuses an extractor with other weights', async () => {
    const ws = newWorkspace();
    await addImages(ws, ['a.jpg']);
    writeCaptions(ws, ['a.jpg']);
    const { manifest } = await run(ws);
    const other = await createTinyExtractor({ seed: 9 });
    await expect(featurizeImage(join(ws.imagesDir, 'a.jpg'), manifest, { extractor: other })).rejects.toThrow(/weights .* differ/);
    other.dispose();
  });
});
