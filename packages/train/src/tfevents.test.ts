import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { crc32c, maskedCrc32c } from './crc32c.js';
import { readScalars, TensorBoardWriter } from './tfevents.js';
import { crc32cBitwise, mask, parseEventFile } from './test-event-parser.js';

const dirs: string[] = [];
afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));

describe('crc32c', () => {
  it('matches the standard check value and the bitwise implementation', () => {
    expect(crc32c(new TextEncoder().encode('123456789'))).toBe(0xe3069283);
    const random = Uint8Array.from({ length: 1000 }, (_, i) => (i * 7919 + 13) & 0xff);
    expect(crc32c(random)).toBe(crc32cBitwise(random));
    expect(maskedCrc32c(random)).toBe(mask(crc32cBitwise(random)));
  });
});

describe('TensorBoardWriter', () => {
  it('writes framed Event records an independent parser reads back', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tb-'));
    dirs.push(dir);
    const writer = TensorBoardWriter.open(dir, { wallTime: 1700000000.25, host: 'testhost' });
    writer.scalars({ 'training loss': 2.5, 'Epoch time (s)': 12.75 }, 1, 1700000001.5);
    writer.scalar('validation loss', 0, 1, 1700000002);
    writer.scalar('training loss', 1.125, 300, 1700000003);
    writer.close();

    expect(readdirSync(dir)).toEqual(['events.out.tfevents.1700000000.testhost']);
    const events = parseEventFile(writer.path);
    expect(events[0]).toEqual({ wallTime: 1700000000.25, step: 0, fileVersion: 'brain.Event:2', values: [] });
    expect(events.slice(1)).toEqual([
      {
        wallTime: 1700000001.5,
        step: 1,
        values: [
          { tag: 'training loss', simpleValue: 2.5 },
          { tag: 'Epoch time (s)', simpleValue: 12.75 },
        ],
      },
      // A 0.0 scalar must still be encoded (proto3 would drop a plain default-valued field).
      { wallTime: 1700000002, step: 1, values: [{ tag: 'validation loss', simpleValue: 0 }] },
      { wallTime: 1700000003, step: 300, values: [{ tag: 'training loss', simpleValue: 1.125 }] },
    ]);
    // The package's own reader agrees.
    expect(readScalars(writer.path).map((s) => [s.tag, s.step, s.value])).toEqual([
      ['training loss', 1, 2.5],
      ['Epoch time (s)', 1, 12.75],
      ['validation loss', 1, 0],
      ['training loss', 300, 1.125],
    ]);
  });

  it('detects a corrupted record', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tb-'));
    dirs.push(dir);
    const writer = TensorBoardWriter.open(dir, { host: 'h' });
    writer.scalar('training loss', 3, 1);
    writer.close();
    const bytes = readFileSync(writer.path);
    bytes[bytes.length - 6] ^= 0xff;
    rmSync(writer.path);
    writeFileSync(writer.path, bytes);
    expect(() => readScalars(writer.path)).toThrow(/data CRC mismatch in record 1/);
  });
});
