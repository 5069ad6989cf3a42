/**
 * tf.train.adam's update, in JS over Float32Arrays, for the native training path: the weights and
 * moments live in JS between steps (no copies into a TF.js backend), and the state is read from /
 * written back to a TF.js AdamOptimizer so checkpoints keep their format (and a run may resume on
 * either engine). Every operation is rounded to float32 in the order tfjs-core's AdamOptimizer
 * applies its ops (m·β1 + g·(1−β1), v·β2 + g²·(1−β2), m̂ = m/(1−β1ᵗ), v̂ = v/(1−β2ᵗ),
 * w + (m̂ / (√v̂ + ε))·(−lr), then β1ᵗ·β1 and β2ᵗ·β2), so both engines compute the same numbers.
 */
import { tf } from '@captioner/tf';
import { CaptionerError } from '@captioner/core';

const fr = Math.fround;

/** The fields of tfjs-core's AdamOptimizer this file reads and writes. */
interface AdamInternals {
  learningRate: number;
  beta1: number;
  beta2: number;
  epsilon: number;
  accBeta1: tf.Variable;
  accBeta2: tf.Variable;
  iterations_?: number;
  accumulatedFirstMoment: { originalName: string; variable: tf.Variable }[];
  accumulatedSecondMoment: { originalName: string; variable: tf.Variable }[];
}

function internals(optimizer: tf.Optimizer): AdamInternals {
  if (optimizer.getClassName() !== 'Adam') {
    throw new CaptionerError(`train.engine onnx: the native step implements Adam only, got the ${optimizer.getClassName()} optimizer (use train.engine tfjs)`);
  }
  return optimizer as unknown as AdamInternals;
}

export class JsAdam {
  readonly m: Float32Array[];
  readonly v: Float32Array[];
  accBeta1: number;
  accBeta2: number;
  iterations: number;

  private constructor(m: Float32Array[], v: Float32Array[], accBeta1: number, accBeta2: number, iterations: number) {
    this.m = m;
    this.v = v;
    this.accBeta1 = accBeta1;
    this.accBeta2 = accBeta2;
    this.iterations = iterations;
  }

  /** The optimizer's current state (zeros before its first update) for variables of these sizes. */
  static fromOptimizer(optimizer: tf.Optimizer, sizes: number[]): JsAdam {
    const a = internals(optimizer);
    const first = a.accumulatedFirstMoment ?? [];
    const second = a.accumulatedSecondMoment ?? [];
    const read = (list: { variable: tf.Variable }[], i: number) => {
      const t = list[i]?.variable;
      if (!t) return new Float32Array(sizes[i]);
      if (t.size !== sizes[i]) throw new CaptionerError(`Adam state: moment ${i} has ${t.size} values, the variable ${sizes[i]}`);
      return (t.dataSync() as Float32Array).slice();
    };
    return new JsAdam(
      sizes.map((_, i) => read(first, i)),
      sizes.map((_, i) => read(second, i)),
      a.accBeta1.dataSync()[0],
      a.accBeta2.dataSync()[0],
      a.iterations_ ?? 0,
    );
  }

  /**
   * One update of `weights` in place with the gradients `grads` scaled by `scale` (the clipping
   * factor; 1 = as is), with the optimizer's current hyper-parameters (a schedule may change lr).
   */
  apply(optimizer: tf.Optimizer, weights: Float32Array[], grads: Float32Array[], scale: number): void {
    const a = internals(optimizer);
    const b1 = fr(a.beta1);
    const b2 = fr(a.beta2);
    const oneMinusB1 = fr(1 - a.beta1);
    const oneMinusB2 = fr(1 - a.beta2);
    const eps = fr(a.epsilon);
    const negLr = fr(-a.learningRate);
    const c1 = fr(1 - this.accBeta1);
    const c2 = fr(1 - this.accBeta2);
    for (let i = 0; i < weights.length; i++) {
      adamUpdate(weights[i], grads[i], this.m[i], this.v[i], fr(scale), b1, b2, oneMinusB1, oneMinusB2, c1, c2, eps, negLr);
    }
    this.accBeta1 = fr(this.accBeta1 * b1);
    this.accBeta2 = fr(this.accBeta2 * b2);
    this.iterations++;
  }

  /** Writes this state into the TF.js optimizer (moments named `<variable>/m|v`, as tfjs names them). */
  async writeTo(optimizer: tf.Optimizer, variableNames: string[], shapes: number[][]): Promise<void> {
    const a = internals(optimizer);
    const old = [...(a.accumulatedFirstMoment ?? []), ...(a.accumulatedSecondMoment ?? [])].map((x) => x.variable);
    const named = [
      { name: 'iter', tensor: tf.scalar(this.iterations, 'int32') },
      ...this.m.map((m, i) => ({ name: `${variableNames[i]}/m`, tensor: tf.tensor(m, shapes[i]) })),
      ...this.v.map((v, i) => ({ name: `${variableNames[i]}/v`, tensor: tf.tensor(v, shapes[i]) })),
    ];
    await optimizer.setWeights(named);
    tf.dispose(old);
    tf.dispose(named.map((n) => n.tensor));
    // setWeights recomputes the beta powers as pow(β, t + 1); keep the step-by-step products.
    a.accBeta1.assign(tf.scalar(this.accBeta1));
    a.accBeta2.assign(tf.scalar(this.accBeta2));
  }
}

/**
 * One variable's update (a standalone monomorphic loop: V8 keeps it on float64 arithmetic with a
 * float32 rounding per operation, which equals float32 arithmetic for + − × ÷ √).
 */
function adamUpdate(
  w: Float32Array,
  g: Float32Array,
  m: Float32Array,
  v: Float32Array,
  scale: number,
  b1: number,
  b2: number,
  oneMinusB1: number,
  oneMinusB2: number,
  c1: number,
  c2: number,
  eps: number,
  negLr: number,
): void {
  const clipped = scale !== 1;
  for (let k = 0; k < w.length; k++) {
    const gk = clipped ? fr(g[k] * scale) : g[k];
    const mk = fr(fr(m[k] * b1) + fr(gk * oneMinusB1));
    const vk = fr(fr(v[k] * b2) + fr(fr(gk * gk) * oneMinusB2));
    m[k] = mk;
    v[k] = vk;
    w[k] = fr(fr(fr(fr(mk / c1) / fr(fr(Math.sqrt(fr(vk / c2))) + eps)) * negLr) + w[k]);
  }
}
