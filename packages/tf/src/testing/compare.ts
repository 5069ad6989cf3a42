import { expect } from 'vitest';
import { seededRandom } from '@captioner/core';
import * as tf from '@tensorflow/tfjs';

/** Deterministic standard-normal-ish values (sum of uniforms) so cpu and wasm get identical inputs. */
export function randomValues(size: number, seed: number): Float32Array {
  const random = seededRandom(seed);
  const out = new Float32Array(size);
  for (let i = 0; i < size; i++) out[i] = random() + random() + random() - 1.5;
  return out;
}

export function randomIds(size: number, maxExclusive: number, seed: number): Int32Array {
  const random = seededRandom(seed);
  return Int32Array.from({ length: size }, () => Math.floor(random() * maxExclusive));
}

export interface Computed {
  shape: number[];
  values: Float32Array | Int32Array | Uint8Array;
}

/**
 * Run `compute` on one backend and read the results back. The backend must already be
 * registered (the cpu reference always is; wasm via initBackend).
 */
export async function runOn(backend: 'cpu' | 'wasm', compute: () => tf.Tensor | tf.Tensor[]): Promise<Computed[]> {
  if (!(await tf.setBackend(backend))) throw new Error(`backend ${backend} failed to start`);
  const outputs = tf.tidy(compute);
  const list = Array.isArray(outputs) ? outputs : [outputs];
  const computed = list.map((t) => ({ shape: t.shape, values: t.dataSync() as Computed['values'] }));
  tf.dispose(list);
  return computed;
}

/** Largest |a - b| / (1 + |b|) over all elements; shapes must match. */
export function maxRelativeError(actual: Computed, expected: Computed): number {
  if (actual.shape.join() !== expected.shape.join()) {
    throw new Error(`shape mismatch: [${actual.shape}] vs [${expected.shape}]`);
  }
  let worst = 0;
  for (let i = 0; i < expected.values.length; i++) {
    const diff = Math.abs(actual.values[i] - expected.values[i]) / (1 + Math.abs(expected.values[i]));
    if (!(diff <= worst)) worst = Number.isNaN(diff) ? Infinity : diff;
  }
  return worst;
}

/** Runs `compute` on cpu and on wasm and expects the same shapes and values within `tolerance`. */
export async function compareWithCpu(compute: () => tf.Tensor | tf.Tensor[], tolerance: number): Promise<void> {
  const expected = await runOn('cpu', compute);
  const actual = await runOn('wasm', compute);
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    expect(actual[i].shape).toEqual(expected[i].shape);
    expect(maxRelativeError(actual[i], expected[i])).toBeLessThan(tolerance);
  }
}
