/**
 * uint8 affine weight quantization in the TF.js weights-manifest format: each float32 tensor is
 * stored as bytes q with `quantization: { dtype: 'uint8', min, scale }` and read back as
 * `q * scale + min` (what tf.io.decodeWeights does). Per tensor, min/max of its values; the
 * round-trip error is at most scale/2 per weight. Browser-safe.
 *
 * A model folder whose weights.bin is quantized is turned back into float32 artifacts before
 * @captioner/model's modelFromArtifacts sees it (that loader only reads float32), so every consumer
 * (Node loader, evaluate, the browser demo) decodes exactly the same float weights.
 */
import { tf } from '@captioner/tf';
import type { ModelArtifacts } from '@captioner/model';

export interface QuantizedEntry {
  name: string;
  shape: number[];
  dtype: 'float32';
  quantization: { dtype: 'uint8'; min: number; scale: number };
}

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
export function quantizeTensor(values: Float32Array): { bytes: Uint8Array; min: number; scale: number } {
  let min = Infinity;
  let max = -Infinity;
  for (const v of values) {
    if (!Number.isFinite(v)) throw new RangeError(`quantize: non-finite weight ${v}`);
    if (v < min) min = v;
    if (v > max) max = v;
  }
  if (values.length === 0) return { bytes: new Uint8Array(0), min: 0, scale: 1 };
  // float32-rounded, as TF.js holds them when it computes q * scale + min.
  const scale = max > min ? Math.fround((max - min) / 255) : 1;
  const fmin = Math.fround(min);
  const bytes = new Uint8Array(values.length);
  for (let i = 0; i < values.length; i++) bytes[i] = Math.min(255, Math.max(0, Math.round((values[i] - fmin) / scale)));
  return { bytes, min: fmin, scale };
}

/** True when any weight of the model.json is stored quantized. */
export function isQuantized(modelJson: unknown): boolean {
  try {
    return weightGroup(modelJson, '').entries.some((e) => e.quantization !== undefined);
  } catch {
    return false;
  }
}

/**
 * Float32 artifacts (as saved by CaptionModel.save) → the same artifacts with uint8 weights.
 * The model.json keeps every field; only the weight entries gain `quantization`.
 */
export function quantizeArtifacts(a: ModelArtifacts, where = ''): ModelArtifacts {
  const { group, entries } = weightGroup(a.modelJson, where);
  if (isQuantized(a.modelJson)) throw new Error(`${where}model.json: the weights are already quantized`);
  const decoded = tf.io.decodeWeights(a.weightData, entries);
  try {
    const parts: Uint8Array[] = [];
    const quantized: QuantizedEntry[] = entries.map((e) => {
      if (e.dtype !== 'float32') throw new Error(`${where}model.json: weight ${e.name} is ${e.dtype}, only float32 weights are quantized`);
      const { bytes, min, scale } = quantizeTensor(decoded[e.name].dataSync() as Float32Array);
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
 * Quantized artifacts → float32 artifacts (the dequantized values, in manifest order); float32
 * artifacts pass through unchanged. Checks the byte count the manifest describes.
 */
export function dequantizeArtifacts(a: ModelArtifacts, where = ''): ModelArtifacts {
  if (!isQuantized(a.modelJson)) return a;
  const { group, entries } = weightGroup(a.modelJson, where);
  let expected = 0;
  for (const e of entries) {
    const size = e.shape.reduce((x, y) => x * y, 1);
    const q = e.quantization;
    if (q && q.dtype !== 'uint8') throw new Error(`${where}model.json: weight ${e.name}: only uint8 quantization is read, got ${q.dtype}`);
    if (q && !(Number.isFinite(q.min) && Number.isFinite(q.scale))) throw new Error(`${where}model.json: weight ${e.name}: quantization needs numeric min and scale`);
    expected += q ? size : 4 * size;
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
