import { CaptionerError, type FeatureSet } from '@captioner/core';
import { log } from '@captioner/core/node';
import type { FailedImage, ShardEntry } from '@captioner/featurize/contract';
import type { PlanInput } from './batches.js';
import type { TokenRows } from './tokens.js';

/** The featurize manifest fields training uses (featurize's contract): the feature set (recorded in the exported model), shards and failures. */
export type FeatureManifest = FeatureSet & { shards: Pick<ShardEntry, 'file' | 'rows' | 'images'>[]; failed: FailedImage[] };

/** What training needs from `@captioner/featurize`'s openFeatureStore. */
export interface FeatureStoreLike {
  manifest: FeatureManifest;
  /** Every stored image, in store (shard) order. */
  images: readonly string[];
  has(image: string): boolean;
  get(image: string): Float32Array;
}

/** One split ready for planning: images in store order (image id = index), rows re-indexed to them. */
export interface SplitData {
  split: string;
  images: string[];
  maxLength: number;
  /** Per row: image id. */
  rowImage: Int32Array;
  lengths: Int32Array;
  /** rows × maxLength. */
  tokens: Int32Array;
  rowCount: number;
  /** Images of the split that have features (before the maxImages cut). */
  available: number;
  rowsByImage: number[][];
  shardGroups: number[][];
  /** Images of the token file's split left out: listed as failed by featurize, or absent from the store. */
  skipped: { failed: string[]; absent: string[] };
}

/**
 * Position and shard of every stored image. Shards list their images (featurize manifest v1);
 * older manifests only give row counts, so the store order is split by those.
 */
export function storeIndex(store: FeatureStoreLike): Map<string, { position: number; shard: number }> {
  const index = new Map<string, { position: number; shard: number }>();
  const shards = store.manifest.shards;
  if (shards.every((s) => Array.isArray(s.images))) {
    let position = 0;
    shards.forEach((s, shard) => s.images!.forEach((image) => index.set(image, { position: position++, shard })));
    return index;
  }
  const total = shards.reduce((n, s) => n + s.rows, 0);
  if (total !== store.images.length) {
    throw new CaptionerError(`featurize manifest lists ${total} rows in its shards but the store has ${store.images.length} images`);
  }
  let shard = 0;
  let shardEnd = shards[0]?.rows ?? 0;
  store.images.forEach((image, position) => {
    while (position >= shardEnd) shardEnd += shards[++shard].rows;
    index.set(image, { position, shard });
  });
  return index;
}

/**
 * Joins a split's token rows with the feature store: keeps images that have features (skipping
 * featurize failures and absent images, with a log line), optionally the first `maxImages` of them in
 * store order, and orders images by store position so features load shard by shard.
 */
export function buildSplit(
  rows: TokenRows,
  store: FeatureStoreLike,
  index: Map<string, { position: number; shard: number }>,
  opts: { maxImages?: number | null; stage?: string } = {},
): SplitData {
  const failedSet = new Set((store.manifest.failed ?? []).map((f) => f.image));
  const skipped = { failed: [] as string[], absent: [] as string[] };
  let kept = rows.images
    .map((image, oldId) => ({ image, oldId, at: index.get(image) }))
    .filter((e) => {
      if (failedSet.has(e.image)) skipped.failed.push(e.image);
      else if (!e.at || !store.has(e.image)) skipped.absent.push(e.image);
      else return true;
      return false;
    })
    .sort((a, b) => a.at!.position - b.at!.position);
  const available = kept.length;
  if (opts.maxImages != null) kept = kept.slice(0, opts.maxImages);
  if (skipped.failed.length + skipped.absent.length > 0) {
    log(
      opts.stage ?? 'train',
      `${rows.split}: skipping ${skipped.failed.length} images featurize failed on and ${skipped.absent.length} without features` +
        ` (e.g. ${[...skipped.failed, ...skipped.absent].slice(0, 3).join(', ')})`,
    );
  }
  const newId = new Map(kept.map((e, i) => [e.oldId, i]));
  const keptRows: number[] = [];
  for (let r = 0; r < rows.count; r++) if (newId.has(rows.rowImage[r])) keptRows.push(r);

  const rowImage = new Int32Array(keptRows.length);
  const lengths = new Int32Array(keptRows.length);
  const tokens = new Int32Array(keptRows.length * rows.maxLength);
  const rowsByImage: number[][] = kept.map(() => []);
  keptRows.forEach((r, i) => {
    const img = newId.get(rows.rowImage[r])!;
    rowImage[i] = img;
    lengths[i] = rows.lengths[r];
    tokens.set(rows.tokens.subarray(r * rows.maxLength, (r + 1) * rows.maxLength), i * rows.maxLength);
    rowsByImage[img].push(i);
  });
  const shardGroups: number[][] = [];
  let lastShard = -1;
  kept.forEach((e, img) => {
    if (e.at!.shard !== lastShard) shardGroups.push([]);
    lastShard = e.at!.shard;
    shardGroups[shardGroups.length - 1].push(img);
  });
  return {
    split: rows.split,
    images: kept.map((e) => e.image),
    maxLength: rows.maxLength,
    rowImage,
    lengths,
    tokens,
    rowCount: keptRows.length,
    available,
    rowsByImage,
    shardGroups,
    skipped,
  };
}

export function planInput(data: SplitData, batchSize: number, imagesPerWindow: number): PlanInput {
  return { shardGroups: data.shardGroups, rowsByImage: data.rowsByImage, lengths: data.lengths, batchSize, imagesPerWindow };
}

/**
 * Resident image features, bounded by a byte budget. Windows are planned to fit the budget, so
 * `ensure` only evicts images the next window does not need; when a whole split fits, its
 * features load once and stay for every epoch.
 */
export class FeatureCache {
  private readonly entries = new Map<string, Float32Array>();
  readonly floatsPerImage: number;

  constructor(
    private readonly store: FeatureStoreLike,
    readonly budgetBytes: number,
  ) {
    this.floatsPerImage = store.manifest.locations * store.manifest.dim;
  }

  get bytesPerImage(): number {
    return this.floatsPerImage * 4;
  }

  /** Most images resident at once under the budget (at least one batch's worth is always allowed). */
  imagesPerWindow(minimum: number): number {
    return Math.max(minimum, Math.floor(this.budgetBytes / this.bytesPerImage));
  }

  get size(): number {
    return this.entries.size;
  }

  has(image: string): boolean {
    return this.entries.has(image);
  }

  /** Makes `images` resident (loading in the given order), evicting others first if the budget requires. */
  async ensure(images: readonly string[]): Promise<number> {
    const needed = new Set(images);
    const missing = images.filter((i) => !this.entries.has(i));
    if (missing.length === 0) return 0;
    const limit = Math.max(needed.size, Math.floor(this.budgetBytes / this.bytesPerImage));
    if (this.entries.size + missing.length > limit) {
      for (const key of this.entries.keys()) {
        if (this.entries.size + missing.length <= limit) break;
        if (!needed.has(key)) this.entries.delete(key);
      }
    }
    for (let i = 0; i < missing.length; i++) {
      const image = missing[i];
      const features = this.store.get(image);
      if (features.length !== this.floatsPerImage) {
        throw new CaptionerError(`features of ${image}: ${features.length} values, expected locations*dim = ${this.floatsPerImage} (featurize manifest)`);
      }
      this.entries.set(image, features);
      // Let signal handlers (SIGINT) run during long loads.
      if (i % 256 === 255) await new Promise((r) => setImmediate(r));
    }
    return missing.length;
  }

  /** [rows.length, locations, dim] features of the given images, one copy per row. */
  gather(images: readonly string[]): Float32Array {
    const out = new Float32Array(images.length * this.floatsPerImage);
    images.forEach((image, i) => {
      const f = this.entries.get(image);
      if (!f) throw new Error(`features of ${image} are not resident (planner/cache mismatch)`);
      out.set(f, i * this.floatsPerImage);
    });
    return out;
  }
}
