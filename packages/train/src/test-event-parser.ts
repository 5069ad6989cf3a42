import { readFileSync } from 'node:fs';
import { expect } from 'vitest';

/*
 * An independent reader of the TFRecord + Event format: bit-by-bit CRC-32C (the writer uses a
 * lookup table) and hand-written protobuf wire decoding (the writer uses protobufjs).
 */
export function crc32cBitwise(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of bytes) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}
export const mask = (crc: number) => ((((crc >>> 15) | (crc << 17)) >>> 0) + 0xa282ead8) >>> 0;

type WireField = { field: number; wire: number; varint?: bigint; bytes?: Uint8Array };

function parseMessage(buf: Uint8Array): WireField[] {
  const out: WireField[] = [];
  let pos = 0;
  const varint = (): bigint => {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      const b = buf[pos++];
      if (b === undefined) throw new Error('varint runs past the end');
      result |= BigInt(b & 0x7f) << shift;
      if (!(b & 0x80)) return result;
      shift += 7n;
    }
  };
  while (pos < buf.length) {
    const key = Number(varint());
    const field = key >>> 3;
    const wire = key & 7;
    if (wire === 0) out.push({ field, wire, varint: varint() });
    else if (wire === 1) out.push({ field, wire, bytes: buf.subarray(pos, (pos += 8)) });
    else if (wire === 5) out.push({ field, wire, bytes: buf.subarray(pos, (pos += 4)) });
    else if (wire === 2) {
      const len = Number(varint());
      out.push({ field, wire, bytes: buf.subarray(pos, (pos += len)) });
    } else throw new Error(`unexpected wire type ${wire} at byte ${pos}`);
  }
  return out;
}

export interface ParsedEvent {
  wallTime?: number;
  step: number;
  fileVersion?: string;
  values: { tag: string; simpleValue?: number }[];
}

export function parseEventFile(path: string): ParsedEvent[] {
  const buf = new Uint8Array(readFileSync(path));
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const events: ParsedEvent[] = [];
  let pos = 0;
  while (pos < buf.length) {
    const lenBytes = buf.subarray(pos, pos + 8);
    const len = Number(view.getBigUint64(pos, true));
    expect(view.getUint32(pos + 8, true)).toBe(mask(crc32cBitwise(lenBytes)));
    const data = buf.subarray(pos + 12, pos + 12 + len);
    expect(view.getUint32(pos + 12 + len, true)).toBe(mask(crc32cBitwise(data)));
    pos += 12 + len + 4;
    const event: ParsedEvent = { step: 0, values: [] };
    for (const f of parseMessage(data)) {
      if (f.field === 1 && f.wire === 1) event.wallTime = new DataView(f.bytes!.buffer, f.bytes!.byteOffset, 8).getFloat64(0, true);
      else if (f.field === 2 && f.wire === 0) event.step = Number(f.varint);
      else if (f.field === 3 && f.wire === 2) event.fileVersion = new TextDecoder().decode(f.bytes);
      else if (f.field === 5 && f.wire === 2) {
        for (const v of parseMessage(f.bytes!)) {
          expect(v.field).toBe(1); // Summary.value
          const value: { tag: string; simpleValue?: number } = { tag: '' };
          for (const vf of parseMessage(v.bytes!)) {
            if (vf.field === 1) value.tag = new TextDecoder().decode(vf.bytes);
            if (vf.field === 2 && vf.wire === 5) value.simpleValue = new DataView(vf.bytes!.buffer, vf.bytes!.byteOffset, 4).getFloat32(0, true);
          }
          event.values.push(value);
        }
      } else throw new Error(`unexpected Event field ${f.field} (wire ${f.wire})`);
    }
    events.push(event);
  }
  expect(pos).toBe(buf.length);
  return events;
}
