import { readFileSync, statSync, existsSync } from 'node:fs';
import { RecordBatchFileWriter, Table, tableFromIPC } from 'apache-arrow';
import { writeFileAtomic } from './atomic.js';
import { CaptionerError } from './errors.js';

/** Arrow's JS reader silently returns an empty table for record batches >= 2 GiB; stay far below. */
export const MAX_RECORD_BATCH_BYTES = 256 * 1024 * 1024;
/** readFileSync cannot read files of 2 GiB or more. */
export const MAX_ARROW_FILE_BYTES = 1024 * 1024 * 1024;

/** Serialises a table as an Arrow IPC *file* and writes it atomically. */
export function writeArrowFile(path: string, table: Table): void {
  const bytes = RecordBatchFileWriter.writeAll(table).toUint8Array(true);
  if (bytes.byteLength >= MAX_ARROW_FILE_BYTES) {
    throw new CaptionerError(`${path}: ${bytes.byteLength} bytes exceeds the ${MAX_ARROW_FILE_BYTES}-byte file cap; shard it`);
  }
  writeFileAtomic(path, bytes);
}

/** Reads an Arrow IPC file (zero-copy over the file's bytes), with a clear error if it is missing. */
export function readArrowFile(path: string, producedBy?: string): Table {
  if (!existsSync(path)) {
    const hint = producedBy ? ` (run \`captioner ${producedBy}\` or \`npx nx run ${producedBy}:run\` first)` : '';
    throw new CaptionerError(`missing input ${path}${hint}`);
  }
  const size = statSync(path).size;
  if (size >= 2 ** 31) throw new CaptionerError(`${path}: ${size} bytes is too large to read in one piece; shard it`);
  const table = tableFromIPC(readFileSync(path));
  return table;
}

/** Column accessor that fails with the file and column name instead of a TypeError. */
export function column<T = unknown>(table: Table, name: string, path = 'table'): { get(i: number): T; length: number } {
  const col = table.getChild(name);
  if (!col) throw new CaptionerError(`${path}: missing column "${name}" (has ${table.schema.fields.map((f) => f.name).join(', ')})`);
  return col as unknown as { get(i: number): T; length: number };
}
