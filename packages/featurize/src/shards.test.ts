import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MAX_RECORD_BATCH_BYTES } from '@captioner/core/node';
import { float16ToFloat32, float32ToFloat16 } from './float16.js';
import { estimatedRowBytes, loadShard, shardRow, shardSizing, ShardSetWriter } from './shards.js';

const dir = mkdtempSync(join(tmpdir(), 'featurize-shards-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('shardSizing', () => {
  const MiB = 1024 * 1024;
  it('keeps the default 1024 images of 64x2048 float16 in one shard of 64 MiB record batches', () => {
    const row = estimatedRowBytes(64 * 2048, 'float16');
    const { rowsPerShard, rowsPerBatch } = shardSizing(row, 1024, 1000 * MiB);
    expect(rowsPerShard).toBe(1024);
    expect(rowsPerBatch * row).toBeLessThanOrEqual(64 * MiB);
    expect(rowsPerBatch).toBe(255);
  });

  it('caps shards by bytes before the image count (float32 under a 256 MiB cap)', () => {
    const row = estimatedRowBytes(64 * 2048, 'float32');
    const { rowsPerShard } = shardSizing(row, 1024, 256 * MiB);
    expect(rowsPerShard).toBe(Math.floor((256 * MiB) / row));
    expect(rowsPerShard * row).toBeLessThanOrEqual(256 * MiB);
    expect(rowsPerShard).toBeLessThan(1024);
  });

  it('never allows a file of 1 GiB or a row beyond a record batch', () => {
    const row = estimatedRowBytes(64 * 2048, 'float32');
    expect(shardSizing(row, 100_000, 4096 * MiB).rowsPerShard * row).toBeLessThan(1024 * MiB);
    expect(() => shardSizing(MAX_RECORD_BATCH_BYTES + 1, 1, MiB)).toThrow(/record batch cap/);
  });
});

describe('ShardSetWriter', () => {
  it('splits rows into shards of several record batches and reads them back exactly', async () => {
    const rowLength = 6;
    const writer = new ShardSetWriter({ dir, dtype: 'float16', rowLength, settingsHash: 'abc', sizing: { rowsPerShard: 5, rowsPerBatch: 2 }, firstIndex: 3 });
    const rows = Array.from({ length: 12 }, (_, r) => Float32Array.from({ length: rowLength }, (_, i) => (r - 6) * 1.25 + i / 7));
    for (const [r, values] of rows.entries()) await writer.append(`im${r}.jpg`, `h${r}`, values);
    const shards = await writer.finish();
    expect(shards.map((s) => [s.file, s.rows])).toEqual([
      ['features-00003.arrow', 5],
      ['features-00004.arrow', 5],
      ['features-00005.arrow', 2],
    ]);
    expect(readdirSync(dir).sort()).toEqual(shards.map((s) => s.file));
    let r = 0;
    for (const entry of shards) {
      const shard = loadShard(dir, entry, { rowLength, dtype: 'float16', settingsHash: 'abc' });
      expect(shard.batches.map((b) => b.rows)).toEqual(entry.rows === 5 ? [2, 2, 1] : [2]);
      expect(shard.table.getChild('hash')!.toArray()).toEqual(entry.hashes);
      for (let k = 0; k < entry.rows; k++, r++) {
        expect(Array.from(float16ToFloat32(shardRow(shard, k, rowLength) as Uint16Array))).toEqual(Array.from(float16ToFloat32(float32ToFloat16(rows[r]))));
      }
    }
    expect(() => loadShard(dir, shards[0], { rowLength, dtype: 'float16', settingsHash: 'other' })).toThrow(/features-00003\.arrow: settings hash abc differs/);
    expect(() => loadShard(dir, shards[0], { rowLength, dtype: 'float32', settingsHash: 'abc' })).toThrow(/expected FixedSizeList\[6\]<Float32>/);
    expect(() => loadShard(dir, { ...shards[0], bytes: 1 }, { rowLength, dtype: 'float16', settingsHash: 'abc' })).toThrow(/manifest\.json says 1/);
  });

  it('abort removes completed shards and the temp file', async () => {
    const sub = join(dir, 'abort');
    const writer = new ShardSetWriter({ dir: sub, dtype: 'float32', rowLength: 2, settingsHash: 'x', sizing: { rowsPerShard: 2, rowsPerBatch: 1 }, firstIndex: 0 });
    for (let r = 0; r < 3; r++) await writer.append(`i${r}`, `h${r}`, Float32Array.of(r, r));
    expect(readdirSync(sub).some((f) => f.endsWith('.tmp'))).toBe(true);
    writer.abort();
    expect(readdirSync(sub)).toEqual([]);
  });
});
