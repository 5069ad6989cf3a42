import { describe, expect, it } from 'vitest';
import { util } from 'apache-arrow';
import { float16ToFloat32, float32ToFloat16, fromFloat16Bits, toFloat16Bits } from './float16.js';

const allHalves = Uint16Array.from({ length: 65536 }, (_, i) => i);
const isNaNHalf = (h: number) => (h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0;

/** Independent reference: the nearest representable half by search over all finite halves, ties to even. */
function referenceEncode(x: number, sortedFinite: { value: number; bits: number }[]): number {
  if (Number.isNaN(x)) return 0x7e00;
  const sign = x < 0 || Object.is(x, -0) ? 0x8000 : 0;
  const a = Math.abs(x);
  // Beyond max + half an ulp (65504 + 16) everything rounds to infinity.
  if (a >= 65520) return sign | 0x7c00;
  let lo = 0;
  let hi = sortedFinite.length - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (sortedFinite[mid].value <= a) lo = mid;
    else hi = mid;
  }
  const below = sortedFinite[lo];
  const above = sortedFinite[hi];
  if (a <= below.value) return sign | below.bits;
  const dBelow = a - below.value;
  const dAbove = above.value - a;
  if (dBelow < dAbove) return sign | below.bits;
  if (dAbove < dBelow) return sign | above.bits;
  return sign | ((below.bits & 1) === 0 ? below.bits : above.bits);
}

describe('float16', () => {
  it('decodes every half bit pattern like apache-arrow does', () => {
    const decoded = float16ToFloat32(allHalves);
    const mismatches: number[] = [];
    for (let h = 0; h < 65536; h++) {
      const expected = util.uint16ToFloat64(h);
      const same = Number.isNaN(expected) ? Number.isNaN(decoded[h]) : Object.is(decoded[h], expected);
      if (!same) mismatches.push(h);
    }
    expect(mismatches).toEqual([]);
  });

  it('round-trips every non-NaN half exactly (including subnormals, zeros, infinities)', () => {
    const back = float32ToFloat16(float16ToFloat32(allHalves));
    let checked = 0;
    for (let h = 0; h < 65536; h++) {
      if (isNaNHalf(h)) {
        expect(isNaNHalf(back[h])).toBe(true);
        continue;
      }
      if (back[h] !== h) throw new Error(`half 0x${h.toString(16)} came back as 0x${back[h].toString(16)}`);
      checked++;
    }
    expect(checked).toBe(65536 - 2 * 1023); // all but the NaN patterns (exponent 31, mantissa != 0, both signs)
  });

  it('rounds midpoints to even and values beside them to the nearer half', () => {
    const f = (bits: number) => fromFloat16Bits(bits);
    // Normal range: 1 + 2^-11 lies halfway between 1 (0x3c00, even) and 1 + 2^-10 (0x3c01).
    expect(toFloat16Bits(1 + 2 ** -11)).toBe(0x3c00);
    expect(toFloat16Bits(1 + 3 * 2 ** -11)).toBe(0x3c02); // halfway 0x3c01/0x3c02 → even
    expect(toFloat16Bits(1 + 2 ** -11 + 2 ** -20)).toBe(0x3c01);
    // Subnormals: units of 2^-24.
    expect(toFloat16Bits(2 ** -24)).toBe(0x0001);
    expect(toFloat16Bits(2 ** -25)).toBe(0x0000); // tie between 0 and 1 unit → 0 (even)
    expect(toFloat16Bits(2 ** -25 * 1.0001)).toBe(0x0001);
    expect(toFloat16Bits(3 * 2 ** -25)).toBe(0x0002); // 1.5 units → 2 (even)
    expect(toFloat16Bits(-5 * 2 ** -25)).toBe(0x8002); // -2.5 units → -2
    expect(toFloat16Bits(2 ** -14 - 2 ** -26)).toBe(0x0400); // rounds up into the smallest normal
    expect(f(0x0400)).toBe(2 ** -14);
    expect(toFloat16Bits(1e-10)).toBe(0x0000);
    expect(toFloat16Bits(-1e-10)).toBe(0x8000);
    // Overflow.
    expect(toFloat16Bits(65504)).toBe(0x7bff);
    expect(toFloat16Bits(65519.99)).toBe(0x7bff);
    expect(toFloat16Bits(65520)).toBe(0x7c00);
    expect(toFloat16Bits(1e6)).toBe(0x7c00);
    expect(toFloat16Bits(-1e6)).toBe(0xfc00);
    expect(toFloat16Bits(Infinity)).toBe(0x7c00);
    expect(toFloat16Bits(-Infinity)).toBe(0xfc00);
    expect(isNaNHalf(toFloat16Bits(NaN))).toBe(true);
    expect(toFloat16Bits(-0)).toBe(0x8000);
  });

  it('matches a nearest-by-search reference on 200k random float32 bit patterns', () => {
    const finite = [] as { value: number; bits: number }[];
    for (let h = 0; h < 0x7c00; h++) finite.push({ value: fromFloat16Bits(h), bits: h });
    finite.push({ value: Infinity, bits: 0x7c00 });
    const bits = new Uint32Array(200_000);
    let state = 12345;
    for (let i = 0; i < bits.length; i++) {
      state = (Math.imul(state, 1103515245) + 12345) >>> 0;
      const hiBits = state;
      state = (Math.imul(state, 1103515245) + 12345) >>> 0;
      // Concentrate on the interesting exponent range (|x| in ~[2^-30, 2^20]) half of the time.
      bits[i] = i % 2 ? ((hiBits & 0x80000000) | ((97 + (state % 50)) << 23) | (hiBits & 0x7fffff)) >>> 0 : hiBits ^ state;
    }
    const values = new Float32Array(bits.buffer);
    const encoded = float32ToFloat16(values);
    for (let i = 0; i < values.length; i++) {
      const expected = referenceEncode(values[i], finite);
      if (Number.isNaN(values[i])) expect(isNaNHalf(encoded[i])).toBe(true);
      else if (encoded[i] !== expected) throw new Error(`${values[i]}: got 0x${encoded[i].toString(16)}, want 0x${expected.toString(16)}`);
    }
  });

  it('keeps relative error within half an ulp (2^-11) over the normal range', () => {
    const values = Float32Array.from({ length: 10_000 }, (_, i) => (i - 5000) * 0.37 + 1e-3);
    const back = float16ToFloat32(float32ToFloat16(values));
    for (let i = 0; i < values.length; i++) {
      expect(Math.abs(back[i] - values[i])).toBeLessThanOrEqual(Math.abs(values[i]) * 2 ** -11 + 1e-12);
    }
  });

  it('rejects an output array that is too short', () => {
    expect(() => float32ToFloat16(new Float32Array(4), new Uint16Array(3))).toThrow(/holds 3 values, need 4/);
    expect(() => float16ToFloat32(new Uint16Array(4), new Float32Array(2))).toThrow(/holds 2 values, need 4/);
  });
});
