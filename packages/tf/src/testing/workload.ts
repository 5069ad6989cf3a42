import * as tf from '@tensorflow/tfjs';
import { randomValues } from './compare.js';

/** A small conv stack with deterministic inputs: compute-bound enough for XNNPACK to use its threads. */
export function convWorkload(batch = 2, size = 32): tf.Tensor {
  return tf.tidy(() => {
    const x = tf.tensor4d(randomValues(batch * size * size * 16, 1), [batch, size, size, 16]);
    const k1 = tf.tensor4d(randomValues(3 * 3 * 16 * 32, 2), [3, 3, 16, 32]);
    const k2 = tf.tensor4d(randomValues(3 * 3 * 32 * 32, 3), [3, 3, 32, 32]);
    const h = tf.relu(tf.conv2d(x, k1, 1, 'same'));
    return tf.conv2d(h, k2, 1, 'same').mean([1, 2]);
  });
}
