/**
 * IEEE 754 binary16 <-> float32 conversion for feature shards. apache-arrow stores Float16 columns
 * as raw Uint16 bit patterns (its own per-element helpers go through float64 and are too slow for
 * ~10^9 values), and Node 20 has no Float16Array, so this is the bulk path.
 *
 * Encoding rounds to nearest, ties to even (like numpy's astype(float16) and hardware F16C):
 * subnormals are produced exactly, |x| >= 65520 becomes ±Infinity, NaN stays NaN (quiet).
 */

/** Decoding table: all 65536 half bit patterns as float32 (256 KiB, built once). */
const HALF_TO_FLOAT = buildDecodeTable();

function buildDecodeTable(): Float32Array {
  const table = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const exponent = (h >>> 10) & 0x1f;
    const mantissa = h & 0x3ff;
    let value: number;
    if (exponent === 0)
      value = mantissa * 2 ** -24; // zero and subnormals
    else if (exponent === 31) value = mantissa ? NaN : Infinity;
    else value = (1 + mantissa / 1024) * 2 ** (exponent - 15);
    table[h] = sign * value;
  }
  return table;
}

/** One half bit pattern from a float32 bit pattern (round to nearest, ties to even). */
function encodeBits(bits: number): number {
  const sign = (bits >>> 16) & 0x8000;
  const exponent = (bits >>> 23) & 0xff;
  const mantissa = bits & 0x7fffff;
  if (exponent >= 143) {
    // |x| >= 65536, Inf or NaN (65520 <= |x| < 65536 reaches Inf through the rounding carry below).
    if (exponent === 255 && mantissa !== 0) return sign | 0x7e00;
    return sign | 0x7c00;
  }
  if (exponent >= 113) {
    // Normal half: keep 10 mantissa bits, round on the 13 dropped ones; a carry may bump the exponent.
    let half = ((exponent - 112) << 10) | (mantissa >>> 13);
    const dropped = mantissa & 0x1fff;
    if (dropped > 0x1000 || (dropped === 0x1000 && half & 1)) half++;
    return sign | half;
  }
  if (exponent >= 102) {
    // Subnormal half (|x| < 2^-14): units of 2^-24; value = significand * 2^(exponent - 150).
    const significand = mantissa | 0x800000;
    const shift = 126 - exponent; // 14..24
    let half = significand >>> shift;
    const dropped = significand & ((1 << shift) - 1);
    const midpoint = 1 << (shift - 1);
    if (dropped > midpoint || (dropped === midpoint && half & 1)) half++;
    return sign | half;
  }
  return sign; // below half the smallest subnormal: signed zero
}

/** Converts float32 values to half bit patterns, into `out` when given (same length). */
export function float32ToFloat16(values: Float32Array, out: Uint16Array = new Uint16Array(values.length)): Uint16Array {
  if (out.length < values.length) throw new RangeError(`float32ToFloat16: output holds ${out.length} values, need ${values.length}`);
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  for (let i = 0; i < bits.length; i++) out[i] = encodeBits(bits[i]);
  return out;
}

/** Converts half bit patterns to float32, into `out` when given (same length). */
export function float16ToFloat32(halves: Uint16Array, out: Float32Array = new Float32Array(halves.length)): Float32Array {
  if (out.length < halves.length) throw new RangeError(`float16ToFloat32: output holds ${out.length} values, need ${halves.length}`);
  for (let i = 0; i < halves.length; i++) out[i] = HALF_TO_FLOAT[halves[i]];
  return out;
}

const scratch = new Float32Array(1);
const scratchBits = new Uint32Array(scratch.buffer);

/** One number → half bit pattern (the value is first rounded to float32, as the bulk path sees it). */
export function toFloat16Bits(value: number): number {
  scratch[0] = value;
  return encodeBits(scratchBits[0]);
}

/** One half bit pattern → number. */
export function fromFloat16Bits(bits: number): number {
  return HALF_TO_FLOAT[bits & 0xffff];
}
