/**
 * Read side of the featurize stage: image name → feature grid (locations*dim float32). Shards are
 * loaded lazily (zero-copy Arrow views over the file bytes) and kept in an LRU cache bounded by a
 * memory budget; float16 rows are decoded to float32 on the way out.
 */
import { join } from 'node:path';
import { CaptionerError } from '@captioner/core';
import { float16ToFloat32 } from './float16.js';
import { MANIFEST_FILE, readFeaturizeManifest, type FailedImage, type FeaturizeManifest } from './manifest.js';
import { fileSize, loadShard, shardRow, type LoadedShard } from './shards.js';

export interface FeatureStoreOptions {
  /** Shards kept in memory at once, by bytes (default 1024 MiB); at least one shard is always kept. */
  memoryBudgetMiB?: number;
}

export interface FeatureStore {
  readonly dir: string;
  readonly manifest: FeaturizeManifest;
  /** Images with features, in shard order. */
  readonly images: readonly string[];
  /** Images that could not be featurized (downstream stages skip them). */
  readonly failed: readonly FailedImage[];
  /** Values per image: locations * dim. */
  readonly rowLength: number;
  has(image: string): boolean;
  /** One image's grid as float32, row-major (locations x dim). */
  get(image: string): Float32Array;
  /** Several images' grids back to back (images.length x locations x dim), into `out` when given. */
  getBatch(images: readonly string[], out?: Float32Array): Float32Array;
  /** Drops cached shards. */
  close(): void;
}

export function openFeatureStore(dir: string, opts: FeatureStoreOptions = {}): FeatureStore {
  const manifest = readFeaturizeManifest(dir);
  const manifestPath = join(dir, MANIFEST_FILE);
  const rowLength = manifest.locations * manifest.dim;
  const budgetBytes = (opts.memoryBudgetMiB ?? 1024) * 1024 * 1024;

  // Fail at open, not hours into training, when a listed shard is missing or has another size.
  for (const entry of manifest.shards) {
    const size = fileSize(join(dir, entry.file));
    if (size < 0) throw new CaptionerError(`${manifestPath} lists ${entry.file}, which is missing; re-run \`captioner featurize\``);
    if (size !== entry.bytes) throw new CaptionerError(`${join(dir, entry.file)}: ${size} bytes, ${manifestPath} says ${entry.bytes}; re-run \`captioner featurize\``);
  }

  const location = new Map<string, { shard: number; row: number }>();
  const images: string[] = [];
  manifest.shards.forEach((entry, shard) =>
    entry.images.forEach((image, row) => {
      location.set(image, { shard, row });
      images.push(image);
    }),
  );
  const failedReason = new Map(manifest.failed.map((f) => [f.image, f.reason]));

  // Insertion-ordered Map as an LRU: re-inserted on use, evicted from the front.
  const cache = new Map<number, LoadedShard>();
  let cachedBytes = 0;
  const shardAt = (index: number): LoadedShard => {
    const hit = cache.get(index);
    if (hit) {
      cache.delete(index);
      cache.set(index, hit);
      return hit;
    }
    const entry = manifest.shards[index];
    for (const [key, old] of cache) {
      if (cachedBytes + entry.bytes <= budgetBytes) break;
      cache.delete(key);
      cachedBytes -= old.byteLength;
    }
    const loaded = loadShard(dir, entry, { rowLength, dtype: manifest.dtype, settingsHash: manifest.settingsHash });
    cache.set(index, loaded);
    cachedBytes += loaded.byteLength;
    return loaded;
  };

  const locate = (image: string) => {
    const at = location.get(image);
    if (at) return at;
    const reason = failedReason.get(image);
    if (reason !== undefined) throw new CaptionerError(`${image}: no features, featurize failed on it (${reason}); see ${manifestPath} "failed"`);
    throw new CaptionerError(`${image}: not in the feature store ${manifestPath} (re-run \`captioner featurize\` after ingest)`);
  };

  const copyRow = (shard: LoadedShard, row: number, out: Float32Array, offset: number) => {
    const values = shardRow(shard, row, rowLength);
    const target = out.subarray(offset, offset + rowLength);
    if (values instanceof Uint16Array) float16ToFloat32(values, target);
    else target.set(values);
  };

  return {
    dir,
    manifest,
    images,
    failed: manifest.failed,
    rowLength,
    has: (image) => location.has(image),
    get(image) {
      const { shard, row } = locate(image);
      const out = new Float32Array(rowLength);
      copyRow(shardAt(shard), row, out, 0);
      return out;
    },
    getBatch(batch, out = new Float32Array(batch.length * rowLength)) {
      if (out.length < batch.length * rowLength) throw new RangeError(`getBatch: output holds ${out.length} values, need ${batch.length * rowLength}`);
      // Visit shards in order so a one-shard budget still loads each shard once per call.
      const order = batch.map((image, i) => ({ i, ...locate(image) })).sort((a, b) => a.shard - b.shard || a.row - b.row);
      for (const { i, shard, row } of order) copyRow(shardAt(shard), row, out, i * rowLength);
      return out;
    },
    close() {
      cache.clear();
      cachedBytes = 0;
    },
  };
}
