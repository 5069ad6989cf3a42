/**
 * The straightforward formulation of the same loss, written like the TensorFlow tutorial's train
 * step — encoder once per batch, then per word: attention (W1·features recomputed every call, as
 * the tutorial's BahdanauAttention does), embedding lookup, GRU, fc1, fc2, masked cross-entropy;
 * autodiff for the gradient — but with the correct GRU recurrence. It is the oracle for the
 * analytic backward pass in tests and the "before" number of the training benchmark. On wasm its
 * gradient needs the UnsortedSegmentSum kernel that @captioner/tf's initBackend registers.
 */
import { tf } from '@captioner/tf';
import type { CaptionModel } from './model.js';

export function referenceLoss(
  model: CaptionModel,
  features: tf.Tensor3D,
  tokens: tf.Tensor2D,
  opts: { attentionPenalty?: number; dropoutMask?: Float32Array } = {},
): tf.Scalar {
  return tf.tidy(() => {
    const w = model.namedWeights();
    const { vocabSize: V, units: U } = model.config;
    const [B, L, D] = features.shape;
    const T = tokens.shape[1];
    const penalty = opts.attentionPenalty ?? 0;
    const [bx, bh] = tf.unstack(w['gru/bias']);
    const columns = tf.unstack(tokens.toInt(), 1);
    // Dropout multipliers [B, T−1, U] → one [B, U] slice per step (applied to fc1's input only).
    const dropout = opts.dropoutMask ? tf.unstack(tf.tensor3d(opts.dropoutMask, [B, T - 1, U]), 1) : null;
    let h: tf.Tensor2D = tf.zeros([B, U]);
    let total: tf.Tensor = tf.scalar(0);
    let coverage: tf.Tensor = tf.zeros([B, L]);
    let count: tf.Tensor = tf.scalar(0);
    let hasTarget: tf.Tensor = tf.zeros([B, 1]);
    const enc = tf.relu(tf.add(tf.matMul(features.reshape([B * L, D]), w['encoder/kernel']), w['encoder/bias'])).reshape([B, L, -1]);
    for (let t = 0; t < T - 1; t++) {
      const keys = tf.add(tf.matMul(enc.reshape([B * L, -1]), w['attention/W1/kernel']), w['attention/W1/bias']).reshape([B, L, -1]);
      const query = tf.add(tf.matMul(h, w['attention/W2/kernel']), w['attention/W2/bias']).expandDims(1);
      const scores = tf.matMul(tf.tanh(tf.add(keys, query)).reshape([B * L, -1]), w['attention/V/kernel']).reshape([B, L]);
      const alpha = tf.softmax(scores);
      const context = tf.sum(tf.mul(alpha.expandDims(2), enc), 1);
      const embedded = tf.gather(w['embedding/embeddings'], columns[t]);
      const x = tf.concat([context, embedded], 1);
      const xg = tf.add(tf.matMul(x, w['gru/kernel']), bx);
      const hg = tf.add(tf.matMul(h, w['gru/recurrent_kernel']), bh);
      const [xz, xr, xn] = tf.split(xg, 3, 1);
      const [hz, hr, hn] = tf.split(hg, 3, 1);
      const z = tf.sigmoid(tf.add(xz, hz));
      const r = tf.sigmoid(tf.add(xr, hr));
      const n = tf.tanh(tf.add(xn, tf.mul(r, hn)));
      h = tf.add(tf.mul(z, h), tf.mul(tf.sub(1, z), n)) as tf.Tensor2D;
      const o1 = tf.add(tf.matMul(dropout ? tf.mul(h, dropout[t]) : h, w['fc1/kernel']), w['fc1/bias']);
      const logits = tf.add(tf.matMul(o1, w['fc2/kernel']), w['fc2/bias']);
      const target = columns[t + 1];
      const mask = tf.notEqual(target, 0).toFloat();
      const nll = tf.neg(tf.sum(tf.mul(tf.oneHot(target, V).toFloat(), tf.logSoftmax(logits)), 1));
      total = tf.add(total, tf.sum(tf.mul(nll, mask)));
      count = tf.add(count, tf.sum(mask));
      coverage = tf.add(coverage, tf.mul(alpha, mask.expandDims(1)));
      hasTarget = tf.maximum(hasTarget, mask.expandDims(1));
    }
    if (penalty > 0) {
      total = tf.add(total, tf.mul(penalty, tf.sum(tf.mul(tf.square(tf.sub(1, coverage)), hasTarget))));
    }
    return tf.div(total, tf.maximum(count, 1)) as tf.Scalar;
  });
}
