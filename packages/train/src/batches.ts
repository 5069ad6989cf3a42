import { createHash } from 'node:crypto';
import { seededRandom, shuffleInPlace } from '@captioner/core';

/**
 * The data order of one epoch: feature windows (sets of images whose features fit the memory budget,
 * taken shard by shard) and, within each window, length-bucketed batches of row ids.
 */
export interface EpochPlan {
  epoch: number;
  windows: PlanWindow[];
  batchCount: number;
}

export interface PlanWindow {
  /** Image ids whose features this window needs, in store (shard) order. */
  images: number[];
  /** Row ids per batch, in the order they are trained on. */
  batches: Int32Array[];
}

export interface PlanInput {
  /** Image ids grouped by feature shard, each group in store order; groups in store order. */
  shardGroups: number[][];
  /** Per image id: its row ids. */
  rowsByImage: number[][];
  /** Per row id: caption length (non-pad tokens). */
  lengths: Int32Array;
  batchSize: number;
  /** Most images whose features may be resident at once. */
  imagesPerWindow: number;
}

export interface TrainOrder {
  seed: number;
  /** Rows are shuffled, then sorted by length within chunks of bucketChunk batches. */
  bucketChunk: number;
}

/**
 * Seed of one epoch's generator: a mix of (seed, epoch), so the order of epoch e is recomputable
 * without replaying epochs 1..e-1 (what `--resume` relies on).
 */
export function epochSeed(seed: number, epoch: number): number {
  let h = (seed ^ Math.imul(epoch + 1, 0x9e3779b1)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

function splitIntoWindows(images: number[], imagesPerWindow: number): number[][] {
  const windows: number[][] = [];
  for (let i = 0; i < images.length; i += imagesPerWindow) windows.push(images.slice(i, i + imagesPerWindow));
  return windows;
}

/** Sorts rows by length (stable: ties keep their shuffled order) and cuts them into batches. */
function bucket(rows: number[], lengths: Int32Array, batchSize: number, chunkRows: number): Int32Array[] {
  const batches: Int32Array[] = [];
  for (let c = 0; c < rows.length; c += chunkRows) {
    const chunk = rows.slice(c, c + chunkRows).sort((a, b) => lengths[a] - lengths[b]);
    for (let b = 0; b < chunk.length; b += batchSize) batches.push(Int32Array.from(chunk.slice(b, b + batchSize)));
  }
  return batches;
}

/**
 * Training order of `epoch` (1-based), a pure function of (seed, epoch, input): shard order is
 * shuffled, shards are packed into memory-budget windows, rows within a window are shuffled,
 * length-sorted within chunks (so each batch pads only to its own longest caption) and the
 * window's batches are shuffled. Every row appears exactly once.
 */
export function planTrainEpoch(input: PlanInput, order: TrainOrder, epoch: number): EpochPlan {
  const random = seededRandom(epochSeed(order.seed, epoch));
  const groups = shuffleInPlace(
    input.shardGroups.map((g) => g),
    random,
  );
  const windows = splitIntoWindows(groups.flat(), input.imagesPerWindow).map((images) => {
    const rows = shuffleInPlace(
      images.flatMap((img) => input.rowsByImage[img]),
      random,
    );
    const batches = shuffleInPlace(bucket(rows, input.lengths, input.batchSize, input.batchSize * order.bucketChunk), random);
    // Load features in store order: sequential reads within each shard.
    return { images: [...images].sort((a, b) => a - b), batches };
  });
  return { epoch, windows, batchCount: windows.reduce((n, w) => n + w.batches.length, 0) };
}

/** Validation order: store order windows, each fully length-sorted (least padding; order is irrelevant). */
export function planEvalPass(input: PlanInput): EpochPlan {
  const windows = splitIntoWindows(input.shardGroups.flat(), input.imagesPerWindow).map((images) => {
    const rows = images.flatMap((img) => input.rowsByImage[img]);
    return { images, batches: bucket(rows, input.lengths, input.batchSize, Number.MAX_SAFE_INTEGER) };
  });
  return { epoch: 0, windows, batchCount: windows.reduce((n, w) => n + w.batches.length, 0) };
}

/** Locates batch `index` of a plan: the window holding it and the offset inside that window. */
export function locateBatch(plan: EpochPlan, index: number): { window: number; offset: number } {
  let remaining = index;
  for (let w = 0; w < plan.windows.length; w++) {
    if (remaining < plan.windows[w].batches.length) return { window: w, offset: remaining };
    remaining -= plan.windows[w].batches.length;
  }
  throw new RangeError(`batch ${index} is beyond the epoch's ${plan.batchCount} batches`);
}

/**
 * Fingerprint of everything the data order depends on. A checkpoint stores it; `--resume` with a
 * different value (other data, batch size, memory budget…) would not continue the same order.
 */
export function orderFingerprint(input: PlanInput, order: TrainOrder, images: readonly string[]): string {
  const hash = createHash('sha256');
  hash.update(JSON.stringify({ seed: order.seed, bucketChunk: order.bucketChunk, batchSize: input.batchSize, window: input.imagesPerWindow }));
  hash.update(JSON.stringify(input.shardGroups.map((g) => g.map((i) => images[i]))));
  hash.update(JSON.stringify(input.rowsByImage));
  hash.update(new Uint8Array(input.lengths.buffer, input.lengths.byteOffset, input.lengths.byteLength));
  return hash.digest('hex').slice(0, 16);
}

/** Columns (time steps) of a batch: its longest caption, not the file's padded maxLength. */
export function batchWidth(rows: Int32Array, lengths: Int32Array): number {
  let width = 0;
  for (const r of rows) width = Math.max(width, lengths[r]);
  return width;
}

/** Copies a batch's token rows, trimmed to the batch width, into one [B, width] Int32Array. */
export function gatherTokens(rows: Int32Array, tokens: Int32Array, maxLength: number, lengths: Int32Array): { data: Int32Array; width: number } {
  const width = batchWidth(rows, lengths);
  const data = new Int32Array(rows.length * width);
  rows.forEach((r, i) => data.set(tokens.subarray(r * maxLength, r * maxLength + width), i * width));
  return { data, width };
}
