import { tf } from '@captioner/tf';
import type { CaptionModel } from './model.js';
import { phase } from './profile.js';

export interface TrainStepOptions {
  /** Clip the gradient to this global norm (0 / undefined = off). */
  clipNorm?: number;
  /** λ of the doubly stochastic attention penalty. */
  attentionPenalty?: number;
  /** Largest micro-batch; smaller than the batch splits it (bounds wasm memory). */
  microBatch?: number;
}

export interface TrainStepResult {
  /** Masked mean loss of the whole batch (before the update). */
  loss: number;
  /** Non-pad target positions in the batch. */
  tokens: number;
  /** Global gradient norm before clipping. */
  gradNorm: number;
}

/**
 * One optimizer step on a batch. Micro-batch gradients are weighted by their non-pad token counts,
 * so the applied gradient equals the full-batch gradient of the masked mean loss.
 */
export function trainStep(
  model: CaptionModel,
  optimizer: tf.Optimizer,
  features: tf.Tensor3D,
  tokens: tf.Tensor2D,
  opts: TrainStepOptions = {},
): TrainStepResult {
  const B = features.shape[0];
  const micro = opts.microBatch && opts.microBatch > 0 ? Math.min(opts.microBatch, B) : B;
  const lossOpts = { attentionPenalty: opts.attentionPenalty ?? 0 };
  let weightedSums: tf.Tensor[] | null = null;
  let lossSum = 0;
  let total = 0;
  for (let start = 0; start < B; start += micro) {
    const size = Math.min(micro, B - start);
    const whole = size === B;
    const f = whole ? features : features.slice([start, 0, 0], [size, -1, -1]);
    const y = whole ? tokens : tokens.slice([start, 0], [size, -1]);
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
  const sums = weightedSums!;
  if (total === 0) {
    tf.dispose(sums);
    return { loss: 0, tokens: 0, gradNorm: 0 };
  }
  phase('optimizer: clip norm');
  const single = micro >= B;
  const { grads, gradNorm } = tf.tidy(() => {
    const mean = single ? sums : sums.map((s) => tf.div(s, total));
    const norm = Math.sqrt(tf.addN(mean.map((g) => tf.sum(tf.square(g)))).dataSync()[0]);
    const clip = opts.clipNorm && opts.clipNorm > 0 && norm > opts.clipNorm ? opts.clipNorm / norm : 1;
    const out = clip === 1 ? mean.map((g) => tf.keep(single ? g.clone() : g)) : mean.map((g) => tf.keep(tf.mul(g, clip)));
    return { grads: out, gradNorm: norm };
  });
  tf.dispose(sums);
  phase('optimizer: apply');
  optimizer.applyGradients(model.variables.map((v, i) => ({ name: v.name, tensor: grads[i] })));
  tf.dispose(grads);
  phase(null);
  return { loss: lossSum / total, tokens: total, gradNorm };
}
