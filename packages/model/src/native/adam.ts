/**
 * tf.train.adam's state for the native training path: the moments live in JS Float32Arrays between
 * steps (fed to and written by the training graph, which applies the update with the float32 ops
 * of tfjs-core's AdamOptimizer in its order: m·β1 + g·(1−β1), v·β2 + g²·(1−β2), m̂ = m/(1−β1ᵗ),
 * v̂ = v/(1−β2ᵗ), (m̂ / (√v̂ + ε))·(−lr) + w), and the running β powers and iteration count here.
 * The state is read from / written back to a TF.js AdamOptimizer, so checkpoints keep their format
 * and a run may resume on either engine.
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
  m: Float32Array[];
  v: Float32Array[];
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

  /** The scalar inputs of the Adam graph (train-graph.ts ADAM_INPUTS order) for the next update. */
  scalars(optimizer: tf.Optimizer, clipNorm: number): number[] {
    const a = internals(optimizer);
    return [clipNorm, a.beta1, a.beta2, fr(1 - a.beta1), fr(1 - a.beta2), fr(1 - this.accBeta1), fr(1 - this.accBeta2), a.epsilon, -a.learningRate];
  }

  /** After an update: the β powers advance (float32 products, as tfjs does) and the iteration count. */
  advance(optimizer: tf.Optimizer): void {
    const a = internals(optimizer);
    this.accBeta1 = fr(this.accBeta1 * fr(a.beta1));
    this.accBeta2 = fr(this.accBeta2 * fr(a.beta2));
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
