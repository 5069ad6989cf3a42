/**
 * The time-major layout of a caption batch that the fast training paths share (fused-wasm.ts, and
 * native/trainer.ts through model.ts): which rows have a non-pad target, and their dropout rows.
 */
import { CaptionerError } from '@captioner/core';

/** Caption layout of one batch, from the int32 token matrix (JS side, small). */
export interface BatchLayout {
  batch: number;
  /** Decoder steps actually needed: up to the last non-pad target of any row. */
  steps: number;
  /** Input token of each step, time-major (row r = t·B + b). */
  inputIds: Int32Array;
  /** Time-major rows whose target is not <pad>, ascending, and their targets. */
  validRows: Int32Array;
  targets: Int32Array;
  /** 1 where the step's target is not <pad>, time-major [steps·B]. */
  mask: Float32Array;
  /** Captions with at least one target (rows that take part in the attention penalty). */
  hasTarget: Float32Array;
}

export function layoutBatch(ids: Int32Array, batch: number, length: number): BatchLayout {
  let steps = 0;
  for (let b = 0; b < batch; b++) {
    for (let t = length - 1; t >= 1; t--) {
      if (ids[b * length + t] !== 0) {
        steps = Math.max(steps, t);
        break;
      }
    }
  }
  const inputIds = new Int32Array(steps * batch);
  const mask = new Float32Array(steps * batch);
  const hasTarget = new Float32Array(batch);
  const valid: number[] = [];
  const targets: number[] = [];
  for (let t = 0; t < steps; t++) {
    for (let b = 0; b < batch; b++) {
      const r = t * batch + b;
      inputIds[r] = ids[b * length + t];
      const y = ids[b * length + t + 1];
      if (y !== 0) {
        mask[r] = 1;
        hasTarget[b] = 1;
        valid.push(r);
        targets.push(y);
      }
    }
  }
  return { batch, steps, inputIds, validRows: Int32Array.from(valid), targets: Int32Array.from(targets), mask, hasTarget };
}

/** The dropout multipliers of the time-major valid rows (r = t·B + b) from a [B, T−1, U] mask. */
export function validRowMask(mask: Float32Array, validRows: Int32Array, B: number, T1: number, U: number): Float32Array {
  const out = new Float32Array(validRows.length * U);
  validRows.forEach((r, i) => {
    const t = Math.floor(r / B);
    const b = r - t * B;
    out.set(mask.subarray((b * T1 + t) * U, (b * T1 + t + 1) * U), i * U);
  });
  return out;
}

export function checkTokenRange(ids: Int32Array, vocabSize: number): void {
  for (const id of ids) {
    if (id < 0 || id >= vocabSize) throw new CaptionerError(`token id ${id} is outside the vocabulary [0, ${vocabSize})`);
  }
}
