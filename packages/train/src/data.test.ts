import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Field, FixedSizeList, Int32, makeData, makeVector, Table, Utf8, vectorFromArray } from 'apache-arrow';
import { writeArrowFile } from '@captioner/core/node';
import { batchWidth, gatherTokens, locateBatch, orderFingerprint, planEvalPass, planTrainEpoch, type EpochPlan } from './batches.js';
import { buildSplit, FeatureCache, planInput, storeIndex, type SplitData } from './dataset.js';
import { memoryStore, writeTokensFixture, type TokensFixture } from './test-fixtures.js';
import { readTokenSplits } from './tokens.js';

let dir: string;
let fixture: TokensFixture;
let train: SplitData;
let val: SplitData;
const store = () => memoryStore(fixture.images, { locations: 4, dim: 3, perShard: 16, failed: ['train-0003.jpg'], omit: ['train-0007.jpg'] });

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'train-data-'));
  fixture = writeTokensFixture(dir, { train: 100, val: 20, test: 10, maxLength: 20 });
  const splits = await readTokenSplits(join(dir, 'tokens.arrow'), ['train', 'val'], { vocabSize: fixture.vocabSize });
  const s = store();
  train = buildSplit(splits.get('train')!, s, storeIndex(s));
  val = buildSplit(splits.get('val')!, s, storeIndex(s));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function allRows(plan: EpochPlan): number[] {
  return plan.windows.flatMap((w) => w.batches.flatMap((b) => [...b]));
}

describe('readTokenSplits + buildSplit', () => {
  it('keeps the requested splits and skips failed/absent images', () => {
    expect(train.images).toHaveLength(98);
    expect(train.skipped).toEqual({ failed: ['train-0003.jpg'], absent: ['train-0007.jpg'] });
    expect(train.rowCount).toBe(98 * 5);
    expect(val.rowCount).toBe(20 * 5);
    // Token rows survive the round trip and stay attached to their image.
    const expected = fixture.rows
      .filter((r) => r.image === 'train-0042.jpg')
      .map((r) => r.tokens.join(' '))
      .sort();
    const img = train.images.indexOf('train-0042.jpg');
    const got = train.rowsByImage[img].map((r) => Array.from(train.tokens.subarray(r * train.maxLength, r * train.maxLength + train.lengths[r])).join(' ')).sort();
    expect(got).toEqual(expected);
  });

  it('orders images by store position and groups them by shard', () => {
    const s = store();
    const index = storeIndex(s);
    const positions = train.images.map((i) => index.get(i)!.position);
    expect(positions).toEqual([...positions].sort((a, b) => a - b));
    for (const group of train.shardGroups) expect(new Set(group.map((i) => index.get(train.images[i])!.shard)).size).toBe(1);
  });

  it('maxImages takes the first images in store order', async () => {
    const splits = await readTokenSplits(join(dir, 'tokens.arrow'), ['train']);
    const s = store();
    const few = buildSplit(splits.get('train')!, s, storeIndex(s), { maxImages: 10 });
    expect(few.images).toEqual(train.images.slice(0, 10));
    expect(few.rowCount).toBe(50);
  });

  it('rejects malformed rows naming file, row and field', async () => {
    const bad = join(dir, 'bad.arrow');
    const flat = new Int32Array([2, 5, 3, 0, 2, 5, 6, 3]);
    const type = new FixedSizeList(4, new Field('item', new Int32(), false));
    writeArrowFile(
      bad,
      new Table({
        image: vectorFromArray(['a.jpg', 'b.jpg'], new Utf8()),
        caption_index: makeVector(new Int32Array([0, 0])),
        split: vectorFromArray(['train', 'train'], new Utf8()),
        tokens: makeVector(makeData({ type, length: 2, nullCount: 0, child: makeData({ type: new Int32(), length: 8, data: flat }) })),
        length: makeVector(new Int32Array([3, 3])),
      }),
    );
    await expect(readTokenSplits(bad, ['train'])).rejects.toThrow(/bad\.arrow: row 1 \(image b\.jpg\): field "tokens"\[3\] = 3 after length 3/);
    await expect(readTokenSplits(join(dir, 'nope.arrow'), ['train'])).rejects.toThrow(/missing input .*nope\.arrow/);
  });
});

describe('planTrainEpoch', () => {
  const order = { seed: 31, bucketChunk: 4 };

  it('covers every row exactly once per epoch, with and without memory windows', () => {
    for (const perWindow of [1000, 30, 7]) {
      const input = planInput(train, 16, perWindow);
      for (const epoch of [1, 2]) {
        const plan = planTrainEpoch(input, order, epoch);
        const rows = allRows(plan).sort((a, b) => a - b);
        expect(rows).toEqual(Array.from({ length: train.rowCount }, (_, i) => i));
        expect(plan.batchCount).toBe(plan.windows.reduce((n, w) => n + w.batches.length, 0));
        for (const w of plan.windows) {
          expect(w.images.length).toBeLessThanOrEqual(perWindow);
          const resident = new Set(w.images);
          for (const b of w.batches) for (const r of b) expect(resident.has(train.rowImage[r])).toBe(true);
        }
      }
    }
  });

  it('buckets by length: batches pad only to their own longest caption, far less than unbucketed batches', () => {
    const input = planInput(train, 16, 1000);
    const waste = (bucketChunk: number) => {
      const plan = planTrainEpoch(input, { seed: 31, bucketChunk }, 1);
      let padded = 0;
      let real = 0;
      for (const b of plan.windows[0].batches) {
        const { data, width } = gatherTokens(b, train.tokens, train.maxLength, train.lengths);
        expect(width).toBe(Math.max(...Array.from(b, (r) => train.lengths[r])));
        expect(data.length).toBe(b.length * width);
        // Each row is its tokens followed by zeros up to the batch width, nothing beyond.
        b.forEach((r, i) => {
          const row = data.subarray(i * width, (i + 1) * width);
          expect(Array.from(row.subarray(0, train.lengths[r]))).toEqual(Array.from(train.tokens.subarray(r * train.maxLength, r * train.maxLength + train.lengths[r])));
          expect(row.subarray(train.lengths[r]).every((v) => v === 0)).toBe(true);
        });
        padded += b.length * width;
        real += b.reduce((n, r) => n + train.lengths[r], 0);
      }
      return 1 - real / padded;
    };
    // Lengths uniform over 3..19: sorting 256-row chunks leaves each 16-row batch ~1 length wide.
    expect(waste(16)).toBeLessThan(0.05);
    // bucketChunk 1 sorts within a batch only (no bucketing): ~a third of every batch is padding.
    expect(waste(1)).toBeGreaterThan(0.25);
  });

  it('is a pure function of (seed, epoch): reproducible, different across epochs and seeds', () => {
    const input = planInput(train, 16, 30);
    const a = planTrainEpoch(input, order, 3);
    const b = planTrainEpoch(input, order, 3);
    expect(allRows(a)).toEqual(allRows(b));
    expect(allRows(planTrainEpoch(input, order, 4))).not.toEqual(allRows(a));
    expect(allRows(planTrainEpoch(input, { ...order, seed: 32 }, 3))).not.toEqual(allRows(a));
    expect(orderFingerprint(input, order, train.images)).toBe(orderFingerprint(planInput(train, 16, 30), order, train.images));
    expect(orderFingerprint(input, order, train.images)).not.toBe(orderFingerprint(planInput(train, 32, 30), order, train.images));
  });

  it('locates a batch by its index in the epoch', () => {
    const plan = planTrainEpoch(planInput(train, 16, 7), order, 1);
    let k = 0;
    plan.windows.forEach((w, wi) => w.batches.forEach((_, bi) => expect(locateBatch(plan, k++)).toEqual({ window: wi, offset: bi })));
    expect(() => locateBatch(plan, plan.batchCount)).toThrow(RangeError);
  });

  it('validation plan covers every val row once, length-sorted', () => {
    const plan = planEvalPass(planInput(val, 16, 1000));
    expect(allRows(plan).sort((a, b) => a - b)).toEqual(Array.from({ length: val.rowCount }, (_, i) => i));
    const widths = plan.windows[0].batches.map((b) => batchWidth(b, val.lengths));
    expect(widths).toEqual([...widths].sort((a, b) => a - b));
  });
});

describe('FeatureCache', () => {
  it('loads in the given order, stays within the budget, and reuses resident images', async () => {
    const s = store();
    const perImageBytes = 4 * 3 * 4;
    const cache = new FeatureCache(s, perImageBytes * 10);
    expect(cache.imagesPerWindow(1)).toBe(10);
    const first = s.images.slice(0, 8);
    expect(await cache.ensure(first)).toBe(8);
    expect(await cache.ensure(first)).toBe(0);
    expect(s.gets).toEqual(first);
    const next = s.images.slice(5, 13);
    expect(await cache.ensure(next)).toBe(5);
    expect(cache.size).toBeLessThanOrEqual(10);
    for (const image of next) expect(cache.has(image)).toBe(true);
    const gathered = cache.gather([next[0], next[0], next[3]]);
    expect(Array.from(gathered.subarray(0, 12))).toEqual(Array.from(s.get(next[0])));
    expect(Array.from(gathered.subarray(12, 24))).toEqual(Array.from(s.get(next[0])));
    expect(() => cache.gather([s.images[0]])).toThrow(/not resident/);
  });
});
