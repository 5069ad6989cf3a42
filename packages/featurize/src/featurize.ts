/**
 * The featurize stage: every image named in ingest/captions.arrow → one row of the backbone's
 * feature grid (InceptionV3 or MobileNetV2) in sharded Arrow files, plus manifest.json (the commit point).
 *
 * Incremental rule: a row is reused when the image's content hash (sha256 of the file bytes) and
 * the settings hash (layer, scaling, dtype, input size, resize grid, weights; not the engine) match
 * the previous manifest. A previous shard whose rows are all still wanted (and which is at least half
 * full) is kept byte-for-byte; wanted rows of other previous shards are copied into the new shards.
 * New shards always get new file names, so until the new manifest lands the previous output stays
 * valid; unreferenced shards are deleted only after it is in place.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { CaptionerError, FEATURE_BACKBONES, type FeaturizeConfig } from '@captioner/core';
import { column, fromRoot, log as coreLog, peakRssMiB, progress, readArrowFile, readJson, timer, writeJsonAtomic } from '@captioner/core/node';
import type { FeatureExtractor } from './extractor.js';
import { createFeatureExtractor } from './engines/index.js';
import { backboneFor } from './engines/extractor-base.js';
import { INGEST_MANIFEST_FILE, ingestManifestSchema } from '@captioner/ingest/contract';
import {
  MANIFEST_FILE,
  MANIFEST_VERSION,
  PREPROCESS_VERSION,
  readFeaturizeManifest,
  settingsHash as hashSettings,
  type FailedImage,
  type FeatureSettings,
  type FeaturizeManifest,
  type ShardEntry,
} from './manifest.js';
import { decodeImage, ImageDecodeError, readImageBytes, resizeAndScale, type DecodedImage } from './preprocess.js';
import { estimatedRowBytes, fileSize, loadShard, SHARD_PATTERN, shardRow, shardSizing, ShardSetWriter } from './shards.js';

export interface RunFeaturizeOptions {
  /** Folder with the ingest stage's captions.arrow and manifest.json. */
  ingestDir: string;
  /** Output folder (data/stages/featurize). */
  outDir: string;
  /** Workspace root: relative paths (imagesDir, weights) resolve against it. */
  root: string;
  config: FeaturizeConfig;
  log?: (message: string) => void;
  /**
   * The network. Default: `createFeatureExtractor({engine, backbone, layer, weights})` from the engines (and
   * disposed at the end). A given extractor is used as is and left to the caller to dispose.
   */
  extractor?: FeatureExtractor;
  /** Plain progress lines every this many ms (default: bar on a TTY, 10 s lines otherwise). */
  progressIntervalMs?: number;
}

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/** Runs `fn` over `items` with at most `limit` in flight, preserving result order. */
async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** Unique image names in first-appearance order; names must be relative paths inside imagesDir. */
function readImageList(ingestDir: string): string[] {
  const path = join(ingestDir, 'captions.arrow');
  const table = readArrowFile(path, 'ingest');
  const images = column<string | null>(table, 'image', path);
  const seen = new Set<string>();
  const out: string[] = [];
  for (let i = 0; i < images.length; i++) {
    const name = images.get(i);
    if (typeof name !== 'string' || name.length === 0) throw new CaptionerError(`${path}: row ${i}: column "image" is empty`);
    if (name.startsWith('/') || name.split(/[\\/]/).includes('..')) {
      throw new CaptionerError(`${path}: row ${i}: image "${name}" must be a path inside the images folder`);
    }
    if (!seen.has(name)) {
      seen.add(name);
      out.push(name);
    }
  }
  if (out.length === 0) throw new CaptionerError(`${path}: no images (the table has no rows)`);
  return out;
}

function readImagesDir(ingestDir: string, root: string): string {
  const path = join(ingestDir, INGEST_MANIFEST_FILE);
  // Only the images folder is needed here: ingest's schema, that field.
  const manifest = readJson(path, ingestManifestSchema.pick({ imagesDir: true }), 'ingest');
  const dir = fromRoot(manifest.imagesDir, root);
  if (!existsSync(dir)) throw new CaptionerError(`${path}: imagesDir ${dir} does not exist`);
  return dir;
}

/** The previous run's manifest, or null (absent, unreadable or from another format: start afresh). */
function readPreviousManifest(outDir: string, say: (m: string) => void): FeaturizeManifest | null {
  if (!existsSync(join(outDir, MANIFEST_FILE))) return null;
  try {
    return readFeaturizeManifest(outDir);
  } catch (err) {
    say(`ignoring previous ${MANIFEST_FILE} (${(err as Error).message}); computing every image`);
    return null;
  }
}

/** Removes temp files and shards that no manifest references (left by an interrupted run). */
function removeUnreferenced(outDir: string, keep: Set<string>): string[] {
  if (!existsSync(outDir)) return [];
  const removed: string[] = [];
  for (const name of readdirSync(outDir)) {
    const isTemp = name.startsWith('.') && name.endsWith('.tmp') && (name.startsWith('.features-') || name.startsWith(`.${MANIFEST_FILE}`));
    if (isTemp || (SHARD_PATTERN.test(name) && !keep.has(name))) {
      rmSync(join(outDir, name), { force: true });
      removed.push(name);
    }
  }
  return removed;
}

function highestShardIndex(outDir: string): number {
  let highest = -1;
  if (!existsSync(outDir)) return highest;
  for (const name of readdirSync(outDir)) {
    const m = SHARD_PATTERN.exec(name);
    if (m) highest = Math.max(highest, Number(m[1]));
  }
  return highest;
}

interface PreparedBatch {
  pixels: Float32Array;
  items: { image: string; hash: string }[];
  failures: FailedImage[];
  decodeSec: number;
}

export async function runFeaturize(opts: RunFeaturizeOptions): Promise<FeaturizeManifest> {
  const say = opts.log ?? ((m: string) => coreLog('featurize', m));
  const { config, outDir, root } = opts;
  const elapsed = timer();

  const images = readImageList(opts.ingestDir);
  const imagesDir = readImagesDir(opts.ingestDir, root);
  const weights = config.weights ? fromRoot(config.weights, root) : null;

  const ownExtractor = !opts.extractor;
  const backbone = backboneFor(config);
  // The config schema checks this too; a config built in code may not have been through it.
  if (!(FEATURE_BACKBONES[backbone].scalings as readonly string[]).includes(config.scaling)) {
    throw new CaptionerError(`featurize.scaling: backbone ${backbone} was trained on ${FEATURE_BACKBONES[backbone].scalings.join(' or ')} pixels, not ${config.scaling}`);
  }
  const extractor = opts.extractor ?? (await createFeatureExtractor({ engine: config.engine, backbone, layer: config.layer, weights: weights ?? undefined }));
  try {
    const settings: FeatureSettings = {
      backbone,
      layer: config.layer,
      scaling: config.scaling,
      dtype: config.dtype,
      inputSize: extractor.inputSize,
      halfPixelCenters: config.halfPixelCenters,
      alpha: 'dropped',
      weightsHash: extractor.weightsHash,
      preprocessVersion: PREPROCESS_VERSION,
    };
    const settingsHash = hashSettings(settings);
    const rowLength = extractor.locations * extractor.dim;

    // Leftovers of an interrupted run are not referenced by the current manifest: drop them first.
    const previous = readPreviousManifest(outDir, say);
    const leftovers = removeUnreferenced(outDir, new Set(previous?.shards.map((s) => s.file) ?? []));
    if (leftovers.length) say(`removed ${leftovers.length} leftover file(s) of an interrupted run`);

    // 1. Content hashes of every image (bytes are not kept: memory stays independent of dataset size).
    const hashTimer = timer();
    const failed = new Map<string, string>();
    const hashes = await mapLimit(images, 16, async (image) => {
      try {
        return sha256(await readImageBytes(join(imagesDir, image)));
      } catch (err) {
        if (!(err instanceof ImageDecodeError)) throw err;
        failed.set(image, err.reason);
        return null;
      }
    });
    const wanted = new Map<string, string>();
    images.forEach((image, i) => {
      if (hashes[i] !== null) wanted.set(image, hashes[i]!);
    });
    say(`${images.length} images, hashed in ${hashTimer().toFixed(1)}s`);

    // 2. Which previous rows are reusable; which previous shards are kept as they are.
    const sizing = shardSizing(estimatedRowBytes(rowLength, config.dtype), config.imagesPerShard, config.shardMaxMiB * 1024 * 1024);
    const reusable = new Set<string>();
    const kept: ShardEntry[] = [];
    const carried: { entry: ShardEntry; rows: number[] }[] = [];
    if (previous && previous.settingsHash === settingsHash) {
      for (const entry of previous.shards) {
        if (fileSize(join(outDir, entry.file)) !== entry.bytes) {
          say(`${entry.file}: missing or resized, its ${entry.rows} image(s) will be recomputed`);
          continue;
        }
        const rows: number[] = [];
        entry.images.forEach((image, row) => {
          if (wanted.get(image) === entry.hashes[row] && !reusable.has(image)) rows.push(row);
        });
        for (const row of rows) reusable.add(entry.images[row]);
        if (rows.length === entry.rows && entry.rows * 2 >= sizing.rowsPerShard) kept.push(entry);
        else if (rows.length > 0) carried.push({ entry, rows });
      }
    } else if (previous) {
      say(`settings changed (backbone/layer/scaling/dtype/input size/resize/weights): recomputing every image`);
    }
    const toCompute = images.filter((image) => wanted.has(image) && !reusable.has(image));
    const carriedRows = carried.reduce((n, c) => n + c.rows.length, 0);
    say(`reusing ${reusable.size} (${kept.length} shard(s) kept, ${carriedRows} row(s) repacked), computing ${toCompute.length} with ${extractor.engine}`);

    // 3. Write new shards: repacked rows first, then computed ones.
    const writer = new ShardSetWriter({
      dir: outDir,
      dtype: config.dtype,
      rowLength,
      settingsHash,
      sizing,
      firstIndex: highestShardIndex(outDir) + 1,
    });
    let computeSec = 0;
    let computed = 0;
    try {
      for (const { entry, rows } of carried) {
        const shard = loadShard(outDir, entry, { rowLength, dtype: config.dtype, settingsHash });
        for (const row of rows) await writer.append(entry.images[row], entry.hashes[row], shardRow(shard, row, rowLength));
      }
      const computeTimer = timer();
      computed = await computeFeatures(toCompute, {
        imagesDir,
        extractor,
        batchSize: config.batchSize,
        preprocess: { inputSize: extractor.inputSize, scaling: config.scaling, halfPixelCenters: config.halfPixelCenters },
        failed,
        rowLength,
        onRow: (image, hash, features) => writer.append(image, hash, features),
        progressIntervalMs: opts.progressIntervalMs,
      });
      computeSec = computeTimer();
      const written = await writer.finish();
      if (writer.overflowed > 0) say(`warning: ${writer.overflowed} feature value(s) exceeded the float16 range and were stored as ±Infinity`);

      const shards = [...kept, ...written];
      const featureRows = shards.reduce((n, s) => n + s.rows, 0);
      const failedList = images.filter((image) => failed.has(image)).map((image) => ({ image, reason: failed.get(image)! }));
      const manifest: FeaturizeManifest = {
        version: MANIFEST_VERSION,
        ...settings,
        grid: [...extractor.grid] as [number, number],
        locations: extractor.locations,
        dim: extractor.dim,
        settingsHash,
        weights,
        engine: extractor.engine,
        shards,
        failed: failedList,
        counts: { images: images.length, features: featureRows, computed, reused: reusable.size, failed: failedList.length },
        timeSec: 0,
        computeSec: round(computeSec, 3),
        imagesPerSec: computed > 0 ? round(computed / computeSec, 2) : 0,
        peakRssMiB: 0,
        createdAt: new Date().toISOString(),
      };
      manifest.timeSec = round(elapsed(), 3);
      manifest.peakRssMiB = peakRssMiB();
      writeJsonAtomic(join(outDir, MANIFEST_FILE), manifest);

      // Only now is the previous output superseded: drop the shards it no longer needs.
      removeUnreferenced(outDir, new Set(shards.map((s) => s.file)));
      say(
        `${featureRows} feature rows in ${shards.length} shard(s); computed ${computed}` +
          (computed ? ` at ${manifest.imagesPerSec} img/s` : '') +
          `, reused ${reusable.size}, failed ${failedList.length}; ${manifest.timeSec.toFixed(1)}s, peak RSS ${manifest.peakRssMiB} MiB`,
      );
      for (const f of failedList.slice(0, 10)) say(`  failed ${f.image}: ${f.reason}`);
      if (failedList.length > 10) say(`  … and ${failedList.length - 10} more (manifest.json "failed")`);
      return manifest;
    } catch (err) {
      writer.abort();
      throw err;
    }
  } finally {
    if (ownExtractor) extractor.dispose();
  }
}

const round = (x: number, digits: number) => Number(x.toFixed(digits));

interface ComputeOptions {
  imagesDir: string;
  extractor: FeatureExtractor;
  batchSize: number;
  preprocess: { inputSize: number; scaling: FeatureSettings['scaling']; halfPixelCenters: boolean };
  failed: Map<string, string>;
  rowLength: number;
  onRow: (image: string, hash: string, features: Float32Array) => Promise<void>;
  progressIntervalMs?: number;
}

/**
 * Decode → network → rows, one batch at a time, with the decoding of batch i+1 running while the
 * network works on batch i (sharp decodes on libuv threads; onnxruntime runs off the main thread).
 * Returns the number of images featurized.
 */
async function computeFeatures(images: string[], o: ComputeOptions): Promise<number> {
  if (images.length === 0) return 0;
  const { inputSize } = o.preprocess;
  const pixelsPerImage = inputSize * inputSize * 3;

  const prepare = async (names: string[]): Promise<PreparedBatch> => {
    const t = timer();
    const decoded = await Promise.all(
      names.map(async (image) => {
        const path = join(o.imagesDir, image);
        try {
          const bytes = await readImageBytes(path);
          // The hash of the bytes actually decoded (the file may have changed since step 1).
          return { image, hash: sha256(bytes), decoded: await decodeImage(bytes, path) };
        } catch (err) {
          if (!(err instanceof ImageDecodeError)) throw err;
          return { image, reason: err.reason };
        }
      }),
    );
    const ok = decoded.filter((d): d is { image: string; hash: string; decoded: DecodedImage } => 'decoded' in d);
    const pixels = new Float32Array(ok.length * pixelsPerImage);
    ok.forEach((d, k) => resizeAndScale(d.decoded, o.preprocess, pixels, k * pixelsPerImage));
    return {
      pixels,
      items: ok.map(({ image, hash }) => ({ image, hash })),
      failures: decoded.filter((d): d is { image: string; reason: string } => 'reason' in d),
      decodeSec: t(),
    };
  };

  const batches: string[][] = [];
  for (let i = 0; i < images.length; i += o.batchSize) batches.push(images.slice(i, i + o.batchSize));
  const bar = progress({ stage: 'featurize', label: 'images', total: images.length, unit: 'img', intervalMs: o.progressIntervalMs });
  let done = 0;
  let pending: Promise<PreparedBatch> = prepare(batches[0]);
  try {
    for (let b = 0; b < batches.length; b++) {
      const batch = await pending;
      if (b + 1 < batches.length) pending = prepare(batches[b + 1]);
      for (const f of batch.failures) o.failed.set(f.image, f.reason);
      const n = batch.items.length;
      if (n > 0) {
        const features = await o.extractor.extract(batch.pixels, n);
        if (features.length !== n * o.rowLength) {
          throw new CaptionerError(`featurize: ${o.extractor.engine} returned ${features.length} values for ${n} images, expected ${n * o.rowLength}`);
        }
        for (let k = 0; k < n; k++) {
          const row = features.subarray(k * o.rowLength, (k + 1) * o.rowLength);
          const { image, hash } = batch.items[k];
          // A network that yields NaN/Infinity for an image is recorded, not written as garbage.
          if (!row.every(Number.isFinite)) {
            o.failed.set(image, 'network output contains NaN or Infinity');
            continue;
          }
          await o.onRow(image, hash, row);
          done++;
        }
      }
      bar.tick(batch.items.length + batch.failures.length, { failed: String(o.failed.size) });
    }
  } finally {
    bar.stop();
    // Settle an in-flight prefetch so no decode runs on after a failure.
    await pending.catch(() => undefined);
  }
  return done;
}
