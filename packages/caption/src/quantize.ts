/**
 * Weight quantization in the TF.js weights-manifest format, per tensor either
 * - uint8 affine: bytes q with `quantization: { dtype: 'uint8', min, scale }`, read back as
 *   `q * scale + min` (what tf.io.decodeWeights does); min/max of the tensor's values, so the
 *   round-trip error is at most scale/2 per weight; or
 * - float16: IEEE binary16 with `quantization: { dtype: 'float16' }` (relative error ≤ 2^-11), for
 *   the tensors whose uint8 step is coarse next to their spread (`quantizationStats` measures it),
 *   at twice the bytes.
 * Browser-safe.
 *
 * A model folder whose weights.bin is quantized is turned back into float32 artifacts before
 * @captioner/model's modelFromArtifacts sees it (that loader only reads float32), so every consumer
 * (Node loader, evaluate, the browser demo) decodes exactly the same float weights.
 */
import { tf } from '@captioner/tf';
import type { ModelArtifacts } from '@captioner/model';
import { float32ToFloat16 } from '@captioner/featurize/browser';

export interface QuantizedEntry {
  name: string;
  shape: number[];
  dtype: 'float32';
  quantization: { dtype: 'uint8'; min: number; scale: number } | { dtype: 'float16' };
}

/** Bytes per stored value of each quantization dtype this module writes and reads. */
const BYTES = { uint8: 1, float16: 2 } as const;

type ManifestEntry = tf.io.WeightsManifestEntry;

function isObject(v: unknown): v is Record<string, unknown> {
  return !!v && typeof v === 'object' && !Array.isArray(v);
}

/** The one weight group of a saved model.json (its entries and the group). */
function weightGroup(modelJson: unknown, where: string): { group: Record<string, unknown>; entries: ManifestEntry[] } {
  const manifest = isObject(modelJson) ? modelJson.weightsManifest : undefined;
  if (!Array.isArray(manifest) || manifest.length !== 1 || !isObject(manifest[0]) || !Array.isArray(manifest[0].weights)) {
    throw new Error(`${where}model.json: weightsManifest must hold one group of weights`);
  }
  return { group: manifest[0], entries: manifest[0].weights as ManifestEntry[] };
}

/** Quantizes one float32 tensor: min/max of the values; a constant tensor gets scale 1 (all q = 0). */
export function quantizeTensor(values: Float32Array, range: 'minmax' | 'mse' = 'minmax'): { bytes: Uint8Array; min: number; scale: number } {
  let min = Infinity;
  let max = -Infinity;
  for (const v of values) {
    if (!Number.isFinite(v)) throw new RangeError(`quantize: non-finite weight ${v}`);
    if (v < min) min = v;
    if (v > max) max = v;
  }
  if (values.length === 0) return { bytes: new Uint8Array(0), min: 0, scale: 1 };
  if (range === 'mse') [min, max] = mseRange(values, min, max);
  // float32-rounded, as TF.js holds them when it computes q * scale + min.
  const scale = max > min ? Math.fround((max - min) / 255) : 1;
  const fmin = Math.fround(min);
  const bytes = new Uint8Array(values.length);
  for (let i = 0; i < values.length; i++) bytes[i] = Math.min(255, Math.max(0, Math.round((values[i] - fmin) / scale)));
  return { bytes, min: fmin, scale };
}

/**
 * The [min, max] of least squared uint8 error: min/max, or the range with the k most extreme values
 * at each end clipped (k from a fixed ladder), whichever rounds the tensor closest overall — a finer
 * step for the bulk of the weights when a few outliers stretch the range.
 */
function mseRange(values: Float32Array, min: number, max: number): [number, number] {
  const sorted = Float32Array.from(values).sort();
  const n = sorted.length;
  let best: [number, number] = [min, max];
  let bestError = Infinity;
  for (const k of [0, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000]) {
    if (2 * k >= n) break;
    const lo = Math.fround(sorted[k]);
    const hi = sorted[n - 1 - k];
    if (!(hi > lo)) continue;
    const scale = Math.fround((hi - lo) / 255);
    let error = 0;
    for (let i = 0; i < n; i++) {
      const q = Math.min(255, Math.max(0, Math.round((values[i] - lo) / scale)));
      error += (q * scale + lo - values[i]) ** 2;
    }
    if (error < bestError) [bestError, best] = [error, [lo, hi]];
  }
  return best;
}

/** float32 values → float16 bytes (little-endian binary16, round to nearest even); throws beyond the float16 range. */
export function float16Tensor(values: Float32Array, name = 'weight'): Uint8Array {
  const halves = float32ToFloat16(values);
  for (let i = 0; i < halves.length; i++) {
    // An exponent of all ones is ±Infinity or NaN: |x| ≥ 65520 or a non-finite weight.
    if ((halves[i] & 0x7c00) === 0x7c00) throw new RangeError(`quantize: weight ${name}[${i}] = ${values[i]} does not fit float16`);
  }
  return new Uint8Array(halves.buffer, halves.byteOffset, halves.byteLength);
}

/** How coarse uint8 is for one tensor: the measurement that decides which tensors stay float16. */
export interface TensorQuantizationStats {
  name: string;
  size: number;
  /** Standard deviation of the float32 values. */
  std: number;
  /** The uint8 step (max - min) / 255, and that step over std. */
  step: number;
  stepOverStd: number;
  /** Largest |uint8 round trip - value|, and the RMS of that error over std. */
  maxError: number;
  rmsErrorOverStd: number;
  /** Largest |float16 round trip - value| over std. */
  float16MaxErrorOverStd: number;
}

/** Per tensor, in manifest order: its spread and the uint8 / float16 round-trip errors (float32 artifacts). */
export function quantizationStats(a: ModelArtifacts, where = ''): TensorQuantizationStats[] {
  const { entries } = weightGroup(a.modelJson, where);
  if (isQuantized(a.modelJson)) throw new Error(`${where}model.json: the weights are already quantized`);
  const decoded = tf.io.decodeWeights(a.weightData, entries);
  try {
    return entries.map((e) => {
      const values = decoded[e.name].dataSync() as Float32Array;
      const n = values.length;
      let mean = 0;
      for (const v of values) mean += v / n;
      let variance = 0;
      for (const v of values) variance += (v - mean) ** 2 / n;
      const std = Math.sqrt(variance);
      const { bytes, min, scale } = quantizeTensor(values);
      const halves = tf.io.decodeWeights(float16Tensor(values, e.name).slice().buffer, [{ name: 'h', shape: [n], dtype: 'float32', quantization: { dtype: 'float16' } }]).h;
      const back = halves.dataSync() as Float32Array;
      halves.dispose();
      let maxError = 0;
      let squared = 0;
      let max16 = 0;
      for (let i = 0; i < n; i++) {
        const err = Math.abs(bytes[i] * scale + min - values[i]);
        maxError = Math.max(maxError, err);
        squared += err * err;
        max16 = Math.max(max16, Math.abs(back[i] - values[i]));
      }
      const over = (x: number) => (std > 0 ? x / std : 0);
      return {
        name: e.name,
        size: n,
        std,
        step: scale,
        stepOverStd: over(scale),
        maxError,
        rmsErrorOverStd: over(Math.sqrt(squared / Math.max(1, n))),
        float16MaxErrorOverStd: over(max16),
      };
    });
  } finally {
    tf.dispose(Object.values(decoded));
  }
}

/**
 * The float16 rule of `tools/ship-model.ts --float16-auto X`: every bias (few bytes, and a bias shifts
 * every activation it feeds) and every tensor whose uint8 step exceeds X times its std.
 */
export function float16ByRule(stats: readonly TensorQuantizationStats[], maxStepOverStd: number): string[] {
  return stats.filter((s) => /(^|\/)bias$/.test(s.name) || s.stepOverStd > maxStepOverStd).map((s) => s.name);
}

/** True when any weight of the model.json is stored quantized. */
export function isQuantized(modelJson: unknown): boolean {
  try {
    return weightGroup(modelJson, '').entries.some((e) => e.quantization !== undefined);
  } catch {
    return false;
  }
}

export interface QuantizeOptions {
  /** Weights stored as float16 instead of uint8 (names as in model.json). */
  float16?: Iterable<string>;
  /** uint8 range per tensor: min/max (default; error ≤ step/2 everywhere) or least squared error (outliers clipped). */
  uint8Range?: 'minmax' | 'mse';
}

/**
 * Float32 artifacts (as saved by CaptionModel.save) → the same artifacts with uint8 weights, or
 * float16 for the weights `options.float16` names. The model.json keeps every field; only the
 * weight entries gain `quantization`.
 */
export function quantizeArtifacts(a: ModelArtifacts, where = '', options: QuantizeOptions = {}): ModelArtifacts {
  const { group, entries } = weightGroup(a.modelJson, where);
  if (isQuantized(a.modelJson)) throw new Error(`${where}model.json: the weights are already quantized`);
  const half = new Set(options.float16 ?? []);
  const unknown = [...half].filter((name) => !entries.some((e) => e.name === name));
  if (unknown.length > 0) throw new Error(`${where}model.json: no weight named ${unknown.join(', ')} (float16 list); the weights are ${entries.map((e) => e.name).join(', ')}`);
  const decoded = tf.io.decodeWeights(a.weightData, entries);
  try {
    const parts: Uint8Array[] = [];
    const quantized: QuantizedEntry[] = entries.map((e) => {
      if (e.dtype !== 'float32') throw new Error(`${where}model.json: weight ${e.name} is ${e.dtype}, only float32 weights are quantized`);
      const values = decoded[e.name].dataSync() as Float32Array;
      if (half.has(e.name)) {
        parts.push(float16Tensor(values, e.name));
        return { name: e.name, shape: [...e.shape], dtype: 'float32', quantization: { dtype: 'float16' } };
      }
      const { bytes, min, scale } = quantizeTensor(values, options.uint8Range);
      parts.push(bytes);
      return { name: e.name, shape: [...e.shape], dtype: 'float32', quantization: { dtype: 'uint8', min, scale } };
    });
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let offset = 0;
    for (const p of parts) {
      out.set(p, offset);
      offset += p.length;
    }
    const modelJson = {
      ...(a.modelJson as Record<string, unknown>),
      weightsManifest: [{ ...group, weights: quantized }],
    };
    return { ...a, modelJson, weightData: out.buffer };
  } finally {
    tf.dispose(Object.values(decoded));
  }
}

/**
 * Quantized artifacts (uint8 and/or float16 entries) → float32 artifacts (the decoded values, in
 * manifest order); float32 artifacts pass through unchanged. Checks the byte count the manifest describes.
 */
export function dequantizeArtifacts(a: ModelArtifacts, where = ''): ModelArtifacts {
  if (!isQuantized(a.modelJson)) return a;
  const { group, entries } = weightGroup(a.modelJson, where);
  let expected = 0;
  for (const e of entries) {
    const size = e.shape.reduce((x, y) => x * y, 1);
    const q = e.quantization;
    if (q && q.dtype !== 'uint8' && q.dtype !== 'float16') throw new Error(`${where}model.json: weight ${e.name}: only uint8 and float16 quantization are read, got ${q.dtype}`);
    if (q?.dtype === 'uint8' && !(Number.isFinite(q.min) && Number.isFinite(q.scale)))
      throw new Error(`${where}model.json: weight ${e.name}: uint8 quantization needs numeric min and scale`);
    if (q && e.dtype !== 'float32') throw new Error(`${where}model.json: weight ${e.name}: quantized weights must be float32, got ${e.dtype}`);
    expected += (q ? BYTES[q.dtype as keyof typeof BYTES] : 4) * size;
  }
  if (a.weightData.byteLength !== expected) {
    throw new Error(`${where}weights.bin: has ${a.weightData.byteLength} bytes, model.json describes ${expected}`);
  }
  const decoded = tf.io.decodeWeights(a.weightData, entries);
  const parts = entries.map((e) => decoded[e.name].dataSync() as Float32Array);
  tf.dispose(Object.values(decoded));
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  const floatEntries = entries.map(({ quantization: _q, ...rest }) => ({ ...rest, dtype: 'float32' as const }));
  const modelJson = { ...(a.modelJson as Record<string, unknown>), weightsManifest: [{ ...group, weights: floatEntries }] };
  return { ...a, modelJson, weightData: out.buffer };
}
