/**
 * Feature shards: Arrow IPC files with columns image (Utf8), hash (Utf8), features
 * (FixedSizeList<Float16|Float32>[locations*dim]). Written record batch by record batch straight to a
 * temp file (memory = one record batch, not one shard), fsynced and renamed into place.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import {
  DataType,
  Field,
  FixedSizeList,
  Float16,
  Float32,
  Precision,
  RecordBatch,
  RecordBatchFileWriter,
  Schema,
  Struct,
  Table,
  Utf8,
  makeData,
  tableFromIPC,
  vectorFromArray,
} from 'apache-arrow';
import { CaptionerError } from '@captioner/core';
import { MAX_ARROW_FILE_BYTES, MAX_RECORD_BATCH_BYTES, tempPathFor } from '@captioner/core/node';
import { float32ToFloat16 } from './float16.js';
import type { FeatureDtype, ShardEntry } from './manifest.js';

export const SHARD_PATTERN = /^features-(\d{5,})\.arrow$/;
export const shardFileName = (index: number) => `features-${String(index).padStart(5, '0')}.arrow`;

/** Record batches are kept well under Arrow JS's limits so a writer never holds much memory. */
export const TARGET_BATCH_BYTES = 64 * 1024 * 1024;
/** Schema metadata key carrying the settings hash, so a shard can be checked against a manifest. */
export const SETTINGS_METADATA_KEY = 'captioner.featurize.settingsHash';

export type FeatureValues = Uint16Array | Float32Array;

export function bytesPerValue(dtype: FeatureDtype): number {
  return dtype === 'float16' ? 2 : 4;
}

/** Upper estimate of one row's bytes on disk (features + names + sha256 hex + offsets). */
export function estimatedRowBytes(rowLength: number, dtype: FeatureDtype, maxImageNameBytes = 256): number {
  return rowLength * bytesPerValue(dtype) + maxImageNameBytes + 64 + 8;
}

export interface ShardSizing {
  rowsPerShard: number;
  rowsPerBatch: number;
}

/** Shard and record-batch row counts from the image count and byte caps (whichever is hit first). */
export function shardSizing(rowBytes: number, imagesPerShard: number, shardMaxBytes: number): ShardSizing {
  if (rowBytes > MAX_RECORD_BATCH_BYTES) throw new CaptionerError(`featurize: one row is ${rowBytes} bytes, above the ${MAX_RECORD_BATCH_BYTES}-byte record batch cap`);
  const capBytes = Math.min(shardMaxBytes, MAX_ARROW_FILE_BYTES - 1024 * 1024);
  const rowsPerShard = Math.max(1, Math.min(imagesPerShard, Math.floor(capBytes / rowBytes)));
  const rowsPerBatch = Math.max(1, Math.min(rowsPerShard, Math.floor(TARGET_BATCH_BYTES / rowBytes)));
  return { rowsPerShard, rowsPerBatch };
}

function shardSchema(rowLength: number, dtype: FeatureDtype, settingsHash: string): Schema {
  const item = new Field('item', dtype === 'float16' ? new Float16() : new Float32(), false);
  return new Schema(
    [new Field('image', new Utf8(), false), new Field('hash', new Utf8(), false), new Field('features', new FixedSizeList(rowLength, item), false)],
    new Map([[SETTINGS_METADATA_KEY, settingsHash]]),
  );
}

/** One shard file being written: a temp file fed by an Arrow file writer, renamed on close. */
class ShardFile {
  readonly tmp: string;
  private readonly fd: number;
  private readonly writer = new RecordBatchFileWriter();
  private readonly drain: Promise<void>;
  private closed = false;
  bytes = 0;

  constructor(readonly path: string) {
    this.tmp = tempPathFor(path);
    mkdirSync(dirname(path), { recursive: true });
    const fd = openSync(this.tmp, 'w');
    this.fd = fd;
    // The writer queues views of the batch buffers; this loop copies them to disk as they come.
    this.drain = (async () => {
      for await (const chunk of this.writer) {
        let offset = 0;
        while (offset < chunk.byteLength) offset += writeSync(fd, chunk, offset);
        this.bytes += chunk.byteLength;
      }
    })();
    // A write error (disk full…) surfaces in write()/close(); after abort() it is expected and ignored.
    this.drain.catch((err: unknown) => {
      this.error ??= err;
    });
  }

  private error: unknown;

  async write(batch: RecordBatch): Promise<void> {
    this.writer.write(batch);
    // Let the drain loop run (queued chunks resolve as microtasks) so batch memory is released now.
    await new Promise<void>((resolve) => setImmediate(resolve));
    if (this.error) throw this.error;
    if (this.bytes >= MAX_ARROW_FILE_BYTES) throw new CaptionerError(`${this.path}: shard reached ${this.bytes} bytes, above the file cap`);
  }

  async close(): Promise<number> {
    this.writer.finish();
    await this.drain;
    fsyncSync(this.fd);
    closeSync(this.fd);
    this.closed = true;
    renameSync(this.tmp, this.path);
    return this.bytes;
  }

  abort(): void {
    if (!this.closed) {
      this.closed = true;
      try {
        this.writer.abort();
      } catch {
        // already finished
      }
      try {
        closeSync(this.fd);
      } catch {
        // already closed
      }
    }
    rmSync(this.tmp, { force: true });
  }
}

export interface ShardSetWriterOptions {
  dir: string;
  dtype: FeatureDtype;
  rowLength: number;
  settingsHash: string;
  sizing: ShardSizing;
  /** Index of the first shard file written (never reuses a name that the current manifest may reference). */
  firstIndex: number;
}

/**
 * Appends rows into consecutive shard files. Rows arrive either as float32 (converted to the
 * shard dtype) or already in the shard dtype (carried over from an older shard).
 */
export class ShardSetWriter {
  private readonly schema: Schema;
  private readonly written: ShardEntry[] = [];
  private nextIndex: number;
  private file: ShardFile | null = null;
  private shardImages: string[] = [];
  private shardHashes: string[] = [];
  private batchImages: string[] = [];
  private batchHashes: string[] = [];
  private batchValues: FeatureValues;
  /** Counts values outside the float16 range that became ±Infinity. */
  overflowed = 0;

  constructor(private readonly opts: ShardSetWriterOptions) {
    this.schema = shardSchema(opts.rowLength, opts.dtype, opts.settingsHash);
    this.nextIndex = opts.firstIndex;
    this.batchValues = this.newBatchBuffer();
  }

  private newBatchBuffer(): FeatureValues {
    const n = this.opts.sizing.rowsPerBatch * this.opts.rowLength;
    return this.opts.dtype === 'float16' ? new Uint16Array(n) : new Float32Array(n);
  }

  /** Files completed so far (shards are complete only after finish()). */
  get shards(): readonly ShardEntry[] {
    return this.written;
  }

  /** Appends one row; `features` is float32 (any dtype) or raw values in the shard dtype. */
  async append(image: string, hash: string, features: Float32Array | Uint16Array): Promise<void> {
    const { rowLength, dtype } = this.opts;
    if (features.length !== rowLength) throw new Error(`append ${image}: ${features.length} values, expected ${rowLength}`);
    const at = this.batchImages.length * rowLength;
    const target = this.batchValues.subarray(at, at + rowLength);
    if (features instanceof Uint16Array) {
      if (dtype !== 'float16') throw new Error(`append ${image}: float16 row into a float32 shard`);
      target.set(features);
    } else if (dtype === 'float16') {
      float32ToFloat16(features, target as Uint16Array);
      for (let i = 0; i < rowLength; i++) if ((target[i] & 0x7fff) === 0x7c00 && Number.isFinite(features[i])) this.overflowed++;
    } else {
      target.set(features);
    }
    this.batchImages.push(image);
    this.batchHashes.push(hash);
    const { rowsPerBatch, rowsPerShard } = this.opts.sizing;
    // A batch also ends where the shard ends, so shards hold exactly rowsPerShard rows.
    if (this.batchImages.length === Math.min(rowsPerBatch, rowsPerShard - this.shardImages.length)) {
      await this.flushBatch();
      if (this.shardImages.length === rowsPerShard) await this.closeShard();
    }
  }

  private async flushBatch(): Promise<void> {
    const n = this.batchImages.length;
    if (n === 0) return;
    if (!this.file) this.file = new ShardFile(join(this.opts.dir, shardFileName(this.nextIndex++)));
    const featuresField = this.schema.fields[2];
    const listType = featuresField.type as FixedSizeList;
    const values = this.batchValues.subarray(0, n * this.opts.rowLength);
    const child = makeData({ type: listType.children[0].type, length: values.length, nullCount: 0, data: values });
    const list = makeData({ type: listType, length: n, nullCount: 0, child });
    const image = vectorFromArray(this.batchImages, new Utf8()).data[0];
    const hash = vectorFromArray(this.batchHashes, new Utf8()).data[0];
    const struct = makeData({ type: new Struct(this.schema.fields), length: n, nullCount: 0, children: [image, hash, list] });
    await this.file.write(new RecordBatch(this.schema, struct));
    this.shardImages.push(...this.batchImages);
    this.shardHashes.push(...this.batchHashes);
    this.batchImages = [];
    this.batchHashes = [];
    // A fresh buffer: the written batch's buffer may still be referenced by the writer queue.
    this.batchValues = this.newBatchBuffer();
  }

  private async closeShard(): Promise<void> {
    if (!this.file) return;
    const file = this.file;
    this.file = null;
    const bytes = await file.close();
    this.written.push({ file: file.path.slice(this.opts.dir.length + 1), rows: this.shardImages.length, bytes, images: this.shardImages, hashes: this.shardHashes });
    this.shardImages = [];
    this.shardHashes = [];
  }

  /** Writes what is buffered and closes the last shard; returns every shard written. */
  async finish(): Promise<ShardEntry[]> {
    await this.flushBatch();
    await this.closeShard();
    return this.written;
  }

  /** Removes the temp file and every shard this writer completed (they are referenced by nothing). */
  abort(): void {
    this.file?.abort();
    this.file = null;
    for (const entry of this.written) rmSync(join(this.opts.dir, entry.file), { force: true });
  }
}

/** A shard read back into memory (zero-copy views over the file's bytes). */
export interface LoadedShard {
  file: string;
  table: Table;
  images: string[];
  /** Per record batch: first row, row count and the raw feature values (storage dtype). */
  batches: { start: number; rows: number; values: FeatureValues }[];
  byteLength: number;
}

/**
 * Reads and checks one shard against its manifest entry: schema, dtype, row length, settings hash,
 * row count and image order. Errors name the file.
 */
export function loadShard(dir: string, entry: ShardEntry, expect: { rowLength: number; dtype: FeatureDtype; settingsHash: string }): LoadedShard {
  const path = join(dir, entry.file);
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    throw new CaptionerError(
      `${path}: listed in ${join(dir, 'manifest.json')} but cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); re-run \`captioner featurize\``,
    );
  }
  if (bytes.byteLength !== entry.bytes) {
    throw new CaptionerError(`${path}: ${bytes.byteLength} bytes, manifest.json says ${entry.bytes}; the feature store is inconsistent, re-run \`captioner featurize\``);
  }
  let table: Table;
  try {
    table = tableFromIPC(bytes);
  } catch (err) {
    throw new CaptionerError(`${path}: not a readable Arrow file (${(err as Error).message})`);
  }
  const inconsistent = (what: string) => new CaptionerError(`${path}: ${what}; the feature store is inconsistent, re-run \`captioner featurize\``);
  const features = table.schema.fields.find((f) => f.name === 'features');
  if (!features || !table.getChild('image') || !table.getChild('hash')) {
    throw inconsistent(`expected columns image, hash, features, found ${table.schema.fields.map((f) => f.name).join(', ')}`);
  }
  const type = features.type as FixedSizeList;
  // IPC-read types are generic Float instances: check the precision, not the class.
  const valueType = type.children?.[0]?.type;
  const dtypeOk = DataType.isFloat(valueType) && valueType.precision === (expect.dtype === 'float16' ? Precision.HALF : Precision.SINGLE);
  if (!DataType.isFixedSizeList(type) || type.listSize !== expect.rowLength || !dtypeOk) {
    throw inconsistent(`features column is ${String(type)}, expected FixedSizeList[${expect.rowLength}]<${expect.dtype === 'float16' ? 'Float16' : 'Float32'}>`);
  }
  const shardSettings = table.schema.metadata.get(SETTINGS_METADATA_KEY);
  if (shardSettings !== expect.settingsHash) throw inconsistent(`settings hash ${shardSettings ?? '(none)'} differs from the manifest's ${expect.settingsHash}`);
  if (table.numRows !== entry.rows) throw inconsistent(`${table.numRows} rows, manifest.json says ${entry.rows}`);
  const images = table.getChild('image')!.toArray() as string[];
  for (let i = 0; i < images.length; i++) {
    if (images[i] !== entry.images[i]) throw inconsistent(`row ${i} is "${images[i]}", manifest.json says "${entry.images[i]}"`);
  }
  const batches: LoadedShard['batches'] = [];
  let start = 0;
  for (const batch of table.batches) {
    const list = batch.getChild('features')!.data[0];
    const child = list.children[0];
    const values = (child.values as FeatureValues).subarray(child.offset + list.offset * expect.rowLength, child.offset + (list.offset + batch.numRows) * expect.rowLength);
    batches.push({ start, rows: batch.numRows, values });
    start += batch.numRows;
  }
  return { file: entry.file, table, images, batches, byteLength: bytes.byteLength };
}

/** Raw row values (storage dtype, a view into the shard's bytes). */
export function shardRow(shard: LoadedShard, row: number, rowLength: number): FeatureValues {
  for (const b of shard.batches) {
    if (row < b.start + b.rows) return b.values.subarray((row - b.start) * rowLength, (row - b.start + 1) * rowLength);
  }
  throw new RangeError(`${shard.file}: row ${row} out of range`);
}

/** Size on disk, or -1 when the file is missing. */
export function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return -1;
  }
}
