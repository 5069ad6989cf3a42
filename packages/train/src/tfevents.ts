import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import protobuf from 'protobufjs';
import { CaptionerError } from '@captioner/core';
import { maskedCrc32c } from './crc32c.js';

/**
 * The subset of tensorflow/core/util/event.proto + summary.proto that scalar logging needs. Field
 * numbers match TensorFlow's so TensorBoard reads the files. `simple_value` sits in a oneof (as in
 * TensorFlow) so a 0.0 value is still encoded: proto3 drops plain default-valued scalars.
 */
const EVENT_PROTO = `
syntax = "proto3";
package tensorflow;

message Summary {
  message Value {
    string node_name = 7;
    string tag = 1;
    oneof value {
      float simple_value = 2;
    }
  }
  repeated Value value = 1;
}

message Event {
  double wall_time = 1;
  int64 step = 2;
  oneof what {
    string file_version = 3;
    Summary summary = 5;
  }
}
`;

const root = protobuf.parse(EVENT_PROTO, { keepCase: true }).root;
const EventType = root.lookupType('tensorflow.Event');

/** The file_version TensorBoard expects as the first record of an event file. */
export const EVENT_FILE_VERSION = 'brain.Event:2';

export interface ScalarEvent {
  wallTime: number;
  step: number;
  tag: string;
  value: number;
}

export interface EventRecord {
  wallTime: number;
  step: number;
  fileVersion?: string;
  scalars: { tag: string; value: number }[];
}

/** TFRecord framing: uint64 LE length, masked CRC32C of those 8 bytes, data, masked CRC32C of data. */
export function frameRecord(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(8 + 4 + data.length + 4);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(data.length), true);
  view.setUint32(8, maskedCrc32c(out.subarray(0, 8)), true);
  out.set(data, 12);
  view.setUint32(12 + data.length, maskedCrc32c(data), true);
  return out;
}

function encodeEvent(fields: Record<string, unknown>): Uint8Array {
  return EventType.encode(EventType.fromObject(fields)).finish();
}

/**
 * Appends TensorBoard events (`events.out.tfevents.<unix time>.<host>`) to a log directory. An event
 * file is an append-only log by design (TensorBoard tails it while training runs), so it is not
 * written atomically; the per-record CRCs let readers detect a torn last record after a crash.
 * Every run (including a `--resume`) starts a new file; TensorBoard merges all files in the dir.
 */
export class TensorBoardWriter {
  private fd: number | null;

  private constructor(
    readonly path: string,
    fd: number,
  ) {
    this.fd = fd;
  }

  static open(logDir: string, opts: { wallTime?: number; host?: string } = {}): TensorBoardWriter {
    mkdirSync(logDir, { recursive: true });
    const wallTime = opts.wallTime ?? Date.now() / 1000;
    const base = join(logDir, `events.out.tfevents.${Math.floor(wallTime)}.${opts.host ?? hostname()}`);
    // Runs started in the same second on one host would collide; TensorFlow disambiguates with a suffix too.
    let path = base;
    for (let n = 1; existsSync(path); n++) path = `${base}.${process.pid}.${n}`;
    const writer = new TensorBoardWriter(path, openSync(path, 'wx'));
    writer.append(encodeEvent({ wall_time: wallTime, step: 0, file_version: EVENT_FILE_VERSION }));
    writer.flush();
    return writer;
  }

  private append(data: Uint8Array): void {
    if (this.fd === null) throw new Error(`${this.path}: event writer is closed`);
    writeSync(this.fd, frameRecord(data));
  }

  /** One event carrying several scalars at the same step (TensorBoard shows one chart per tag). */
  scalars(values: Record<string, number>, step: number, wallTime = Date.now() / 1000): void {
    const value = Object.entries(values).map(([tag, v]) => ({ tag, simple_value: v }));
    this.append(encodeEvent({ wall_time: wallTime, step, summary: { value } }));
  }

  scalar(tag: string, value: number, step: number, wallTime?: number): void {
    this.scalars({ [tag]: value }, step, wallTime);
  }

  /** Forces written events to disk (called at epoch ends and on close). */
  flush(): void {
    if (this.fd !== null) fsyncSync(this.fd);
  }

  close(): void {
    if (this.fd === null) return;
    this.flush();
    closeSync(this.fd);
    this.fd = null;
  }
}

/**
 * Reads an event file written by TensorBoardWriter (or TensorFlow) back into records, verifying
 * both CRCs of every record. A torn final record (a crash mid-append) is reported, not skipped.
 */
export function readTensorBoardEvents(path: string): EventRecord[] {
  const bytes = readFileSync(path);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const records: EventRecord[] = [];
  let pos = 0;
  while (pos < bytes.length) {
    if (pos + 12 > bytes.length) throw new CaptionerError(`${path}: truncated record header at byte ${pos}`);
    const length = Number(view.getBigUint64(pos, true));
    if (view.getUint32(pos + 8, true) !== maskedCrc32c(bytes.subarray(pos, pos + 8))) {
      throw new CaptionerError(`${path}: length CRC mismatch in record ${records.length} (byte ${pos})`);
    }
    const start = pos + 12;
    if (start + length + 4 > bytes.length) throw new CaptionerError(`${path}: truncated record ${records.length} (byte ${pos})`);
    const data = bytes.subarray(start, start + length);
    if (view.getUint32(start + length, true) !== maskedCrc32c(data)) {
      throw new CaptionerError(`${path}: data CRC mismatch in record ${records.length} (byte ${pos})`);
    }
    const event = EventType.toObject(EventType.decode(data), { longs: Number, defaults: true }) as {
      wall_time: number;
      step: number;
      file_version?: string;
      summary?: { value?: { tag: string; simple_value?: number }[] };
    };
    records.push({
      wallTime: event.wall_time,
      step: event.step,
      ...(event.file_version ? { fileVersion: event.file_version } : {}),
      scalars: (event.summary?.value ?? []).filter((v) => v.simple_value !== undefined).map((v) => ({ tag: v.tag, value: v.simple_value as number })),
    });
    pos = start + length + 4;
  }
  return records;
}

/** All scalar events of a file, flattened (tag, step, value, wall time). */
export function readScalars(path: string): ScalarEvent[] {
  return readTensorBoardEvents(path).flatMap((r) => r.scalars.map((s) => ({ wallTime: r.wallTime, step: r.step, ...s })));
}
