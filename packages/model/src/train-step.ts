import { tf } from '@captioner/tf';
import { CaptionerError } from '@captioner/core';
import { dropoutMask, type CaptionModel, type LossOptions } from './model.js';
import { phase } from './profile.js';

export interface TrainStepOptions {
  /** Clip the gradient to this global norm (0 / undefined = off). */
  clipNorm?: number;
  /** λ of the doubly stochastic attention penalty. */
  attentionPenalty?: number;
  /** Largest micro-batch; smaller than the batch splits it (bounds wasm memory). */
  microBatch?: number;
  /** Dropout rate p on the GRU outputs that feed fc1 (0 / undefined = off). */
  dropout?: number;
  /** Seed of this step's dropout mask (e.g. `dropoutSeed(runSeed, globalStep)`); default 0. */
  dropoutSeed?: number;
  /** An explicit [B, T−1, U] dropout mask (0 or 1/(1−p)); overrides `dropout`/`dropoutSeed`. */
  dropoutMask?: Float32Array;
}

/** The whole batch's dropout mask for these options, or undefined when dropout is off. */
export function batchDropoutMask(model: CaptionModel, tokens: tf.Tensor2D, opts: Pick<TrainStepOptions, 'dropout' | 'dropoutSeed' | 'dropoutMask'>): Float32Array | undefined {
  const [B, T] = tokens.shape;
  const size = B * (T - 1) * model.config.units;
  if (opts.dropoutMask) {
    if (opts.dropoutMask.length !== size) {
      throw new CaptionerError(`trainStep: dropoutMask must hold [B, T−1, U] = [${B}, ${T - 1}, ${model.config.units}] values, got ${opts.dropoutMask.length}`);
    }
    return opts.dropoutMask;
  }
  const rate = opts.dropout ?? 0;
  if (rate === 0) return undefined;
  return dropoutMask(rate, opts.dropoutSeed ?? 0, B, T - 1, model.config.units);
}

/**
 * The dropout seed of one optimizer step: a 32-bit mix of the run's seed and the global step (so a
 * resumed run draws the same masks as an uninterrupted one).
 */
export function dropoutSeed(runSeed: number, globalStep: number): number {
  let h = Math.imul((runSeed >>> 0) ^ 0x9e3779b9, 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (globalStep >>> 0) ^ (h >>> 13), 0xc2b2ae35) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

export interface TrainStepResult {
  /** Masked mean loss of the whole batch (before the update). */
  loss: number;
  /** Non-pad target positions in the batch. */
  tokens: number;
  /** Global gradient norm before clipping. */
  gradNorm: number;
}

/** Gradients of (part of) a batch, aligned with `model.variables`. */
export interface GradientSums {
  /** Token-weighted gradient sums, or already the mean gradient when `isMean` (one micro-batch). */
  grads: tf.Tensor[];
  isMean: boolean;
  /** Σ loss × tokens over the micro-batches. */
  lossSum: number;
  /** Non-pad target positions. */
  tokens: number;
}

/**
 * Gradients of a batch, micro-batch by micro-batch. Micro-batch gradients are weighted by their
 * non-pad token counts, so sums / tokens is the full-batch gradient of the masked mean loss (and
 * the native engine applies them the same way).
 */
export function accumulateGradients(model: CaptionModel, features: tf.Tensor3D, tokens: tf.Tensor2D, opts: Omit<TrainStepOptions, 'clipNorm'> = {}): GradientSums {
  const B = features.shape[0];
  const micro = opts.microBatch && opts.microBatch > 0 ? Math.min(opts.microBatch, B) : B;
  // One mask for the whole batch, cut by rows: micro-batching does not change which units drop.
  const mask = batchDropoutMask(model, tokens, opts);
  const rowSize = (tokens.shape[1] - 1) * model.config.units;
  let weightedSums: tf.Tensor[] | null = null;
  let lossSum = 0;
  let total = 0;
  for (let start = 0; start < B; start += micro) {
    const size = Math.min(micro, B - start);
    const whole = size === B;
    const f = whole ? features : features.slice([start, 0, 0], [size, -1, -1]);
    const y = whole ? tokens : tokens.slice([start, 0], [size, -1]);
    const lossOpts: LossOptions = {
      attentionPenalty: opts.attentionPenalty ?? 0,
      ...(mask ? { dropoutMask: whole ? mask : mask.subarray(start * rowSize, (start + size) * rowSize) } : {}),
    };
    const r = model.lossAndGradients(f, y, lossOpts);
    if (!whole) tf.dispose([f, y]);
    const n = r.tokens;
    lossSum += r.loss.dataSync()[0] * n;
    total += n;
    r.loss.dispose();
    if (whole) {
      weightedSums = r.grads;
    } else {
      const previous: tf.Tensor[] | null = weightedSums;
      weightedSums = tf.tidy(() => r.grads.map((g, i) => (previous ? tf.add(previous[i], tf.mul(g, n)) : tf.mul(g, n))));
      tf.dispose(r.grads);
      if (previous) tf.dispose(previous);
    }
  }
  return { grads: weightedSums!, isMean: micro >= B, lossSum, tokens: total };
}

/** Clips the mean gradient to `clipNorm` and applies it with `optimizer`; disposes `g.grads`. */
export function applyGradientSums(model: CaptionModel, optimizer: tf.Optimizer, g: GradientSums, clipNorm?: number): TrainStepResult {
  const { grads: sums, tokens: total } = g;
  if (total === 0) {
    tf.dispose(sums);
    return { loss: 0, tokens: 0, gradNorm: 0 };
  }
  phase('optimizer: clip norm');
  const { grads, gradNorm } = tf.tidy(() => {
    const mean = g.isMean ? sums : sums.map((s) => tf.div(s, total));
    const norm = Math.sqrt(tf.addN(mean.map((x) => tf.sum(tf.square(x)))).dataSync()[0]);
    const clip = clipNorm && clipNorm > 0 && norm > clipNorm ? clipNorm / norm : 1;
    const out = clip === 1 ? mean.map((x) => tf.keep(g.isMean ? x.clone() : x)) : mean.map((x) => tf.keep(tf.mul(x, clip)));
    return { grads: out, gradNorm: norm };
  });
  tf.dispose(sums);
  phase('optimizer: apply');
  optimizer.applyGradients(model.variables.map((v, i) => ({ name: v.name, tensor: grads[i] })));
  tf.dispose(grads);
  phase(null);
  return { loss: g.lossSum / total, tokens: total, gradNorm };
}

/**
 * One optimizer step on a batch: the token-weighted gradient over its micro-batches, clipped, applied.
 * The applied gradient equals the full-batch gradient of the masked mean loss.
 */
export function trainStep(model: CaptionModel, optimizer: tf.Optimizer, features: tf.Tensor3D, tokens: tf.Tensor2D, opts: TrainStepOptions = {}): TrainStepResult {
  return applyGradientSums(model, optimizer, accumulateGradients(model, features, tokens, opts), opts.clipNorm);
}
