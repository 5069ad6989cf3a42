/**
 * Show, Attend and Tell (Xu et al. 2015) as in the TensorFlow image-captioning tutorial, with the
 * GRU recurrence fixed: the tutorial calls `self.gru(x)` without `initial_state`, so every word
 * restarts the GRU from zeros (tensorflow/tensorflow#38248); here h_t = GRU(x_t, h_{t-1}).
 *
 *   enc      = relu(F·We + be)                          F: [B, L, D] feature grid → [B, L, E]
 *   e_t      = V·tanh(enc·W1 + b1 + h_{t-1}·W2 + b2)     score of each location      [B, L]
 *   α_t      = softmax_L(e_t);  c_t = Σ_l α_tl·enc_l     attention weights, context  [B, E]
 *   x_t      = [c_t, Emb(y_{t-1})]                       context first (tutorial order) [B, 2E]
 *   h_t      = GRU(x_t, h_{t-1})                         Keras GRU, reset_after=True, h_0 = 0
 *   logits_t = (h_t·Wf1 + bf1)·Wf2 + bf2                 fc1 (no activation, as the tutorial), fc2
 *
 * The training loss has a hand-written backward pass (`forwardBackward`) laid out for tfjs-wasm:
 * everything that does not depend on h_{t-1} runs once per batch as a large matMul (encoder, W1·enc,
 * all embeddings and their GRU input projection, the output layers and the cross-entropy over every
 * non-pad position); the per-step loop holds only the attention and the GRU (one fused matMul for
 * the recurrent gates and the attention query); the attention and GRU backward are JS loops over
 * the wasm heap; per-step parameter gradients are stacked and reduced with one matMul after the
 * loop. `referenceLoss` (reference.ts) is the straightforward autodiff version the tests compare to.
 */
import { tf } from '@captioner/tf';
import { CaptionerError, seededRandom } from '@captioner/core';
import { valuesOf } from './values.js';
import { phase } from './profile.js';
// Type-only: the file-system code is imported lazily so browsers can use this module.
import type { LoadedCaptionModel, SaveExtras } from './artifacts.js';
import { tfjsStepEngine, type StepEngine } from './decode.js';

export interface CaptionModelConfig {
  /** Output classes: numWords + 1 (<pad> = 0 is never predicted but keeps ids aligned). */
  vocabSize: number;
  /** Feature-grid locations L (8x8 = 64 for InceptionV3 mixed10). */
  locations: number;
  /** Feature channels D (2048 for mixed10). */
  featureDim: number;
  embeddingDim: number;
  units: number;
  attentionUnits: number;
}

export const DEFAULT_MODEL_DIMS = { embeddingDim: 256, units: 512, attentionUnits: 512 } as const;

type Init = 'zeros' | 'glorot' | 'orthogonal' | 'embedding';
interface ParamSpec {
  name: string;
  shape: number[];
  init: Init;
}

/** Parameters in their stable order; names follow the Keras layers of the tutorial. */
export function parameterSpecs(c: CaptionModelConfig): ParamSpec[] {
  const { featureDim: D, embeddingDim: E, units: U, attentionUnits: A, vocabSize: V } = c;
  return [
    { name: 'encoder/kernel', shape: [D, E], init: 'glorot' },
    { name: 'encoder/bias', shape: [E], init: 'zeros' },
    { name: 'attention/W1/kernel', shape: [E, A], init: 'glorot' },
    { name: 'attention/W1/bias', shape: [A], init: 'zeros' },
    { name: 'attention/W2/kernel', shape: [U, A], init: 'glorot' },
    { name: 'attention/W2/bias', shape: [A], init: 'zeros' },
    // Keras' Dense(1) would also have a bias, but softmax over locations ignores it (zero gradient).
    { name: 'attention/V/kernel', shape: [A, 1], init: 'glorot' },
    { name: 'embedding/embeddings', shape: [V, E], init: 'embedding' },
    // Gate order z, r, h (Keras). Input rows: context (E) then embedding (E).
    { name: 'gru/kernel', shape: [2 * E, 3 * U], init: 'glorot' },
    { name: 'gru/recurrent_kernel', shape: [U, 3 * U], init: 'orthogonal' },
    // reset_after=True: row 0 input bias, row 1 recurrent bias.
    { name: 'gru/bias', shape: [2, 3 * U], init: 'zeros' },
    { name: 'fc1/kernel', shape: [U, U], init: 'glorot' },
    { name: 'fc1/bias', shape: [U], init: 'zeros' },
    { name: 'fc2/kernel', shape: [U, V], init: 'glorot' },
    { name: 'fc2/bias', shape: [V], init: 'zeros' },
  ];
}

/** Keras initializers, drawn from one seeded stream in parameter order (same seed → same weights). */
function initialValues(spec: ParamSpec, random: () => number): Float32Array {
  const size = spec.shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(size);
  if (spec.init === 'zeros') return out;
  if (spec.init === 'embedding') {
    for (let i = 0; i < size; i++) out[i] = (random() * 2 - 1) * 0.05;
    return out;
  }
  const [rows, cols] = spec.shape;
  if (spec.init === 'glorot') {
    const limit = Math.sqrt(6 / (rows + cols));
    for (let i = 0; i < size; i++) out[i] = (random() * 2 - 1) * limit;
    return out;
  }
  return orthogonal(rows, cols, random);
}

function normal(random: () => number): number {
  // Box–Muller; 1 - u keeps log() finite.
  const u = 1 - random();
  const v = random();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/** Keras Orthogonal(gain 1) for a [rows, cols] matrix: orthonormal rows (or columns if rows > cols). */
function orthogonal(rows: number, cols: number, random: () => number): Float32Array {
  const n = Math.min(rows, cols);
  const len = Math.max(rows, cols);
  const vectors: Float64Array[] = [];
  for (let i = 0; i < n; i++) {
    const v = new Float64Array(len);
    for (let j = 0; j < len; j++) v[j] = normal(random);
    // Modified Gram–Schmidt, two passes for numerical orthogonality.
    for (let pass = 0; pass < 2; pass++) {
      for (const u of vectors) {
        let dot = 0;
        for (let j = 0; j < len; j++) dot += u[j] * v[j];
        for (let j = 0; j < len; j++) v[j] -= dot * u[j];
      }
    }
    let norm = 0;
    for (let j = 0; j < len; j++) norm += v[j] * v[j];
    norm = Math.sqrt(norm);
    for (let j = 0; j < len; j++) v[j] /= norm;
    vectors.push(v);
  }
  const out = new Float32Array(rows * cols);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < len; j++) {
      if (rows <= cols) out[i * cols + j] = vectors[i][j];
      else out[j * cols + i] = vectors[i][j];
    }
  }
  return out;
}

// A type alias (not an interface) so it is a tf.TensorContainer and can be returned from tf.tidy.
export type StepResult = {
  /** [B, vocabSize] unnormalized scores for the next token. */
  logits: tf.Tensor2D;
  /** [B, units] the new GRU state. */
  hidden: tf.Tensor2D;
  /** [B, L] attention weights used for this step (rows sum to 1). */
  attention: tf.Tensor2D;
};

export interface LossOptions {
  /** λ of the doubly stochastic attention penalty (0 = off). */
  attentionPenalty?: number;
  /**
   * Inverted dropout on the GRU outputs h_t that feed fc1 (not on the recurrence): multipliers
   * [B, T−1, U] row-major (caption b, step t, unit u), each 0 or 1/(1−p); see `dropoutMask`.
   * Training only: validation loss and decoding never pass one.
   */
  dropoutMask?: Float32Array;
}

/**
 * A seeded inverted-dropout mask for `LossOptions.dropoutMask`: [batch, steps, units] multipliers,
 * 0 with probability `rate`, else 1/(1−rate) (as float32). Drawn caption by caption, step by step,
 * unit by unit from `seededRandom(seed)`, so the same (seed, shape) gives the same mask on every
 * engine and a row slice of a batch's mask is that micro-batch's mask.
 */
export function dropoutMask(rate: number, seed: number, batch: number, steps: number, units: number): Float32Array {
  if (!(rate >= 0 && rate < 1)) throw new CaptionerError(`dropout rate must be in [0, 1), got ${rate}`);
  const out = new Float32Array(batch * steps * units);
  const keep = Math.fround(1 / (1 - rate));
  const random = seededRandom(seed);
  for (let i = 0; i < out.length; i++) out[i] = random() < rate ? 0 : keep;
  return out;
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

export interface LossAndGradients {
  /** Masked mean cross-entropy (+ penalty) of the batch. */
  loss: tf.Scalar;
  /** d loss / d variable, aligned with `model.variables`. */
  grads: tf.Tensor[];
  /** Non-pad target positions the mean is over. */
  tokens: number;
}

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

/** What the backward pass needs from one decoder step. */
interface StepRecord {
  hPrev: tf.Tensor2D;
  context: tf.Tensor2D;
  weights: tf.Tensor2D;
  squashed: tf.Tensor3D;
  z: tf.Tensor2D;
  r: tf.Tensor2D;
  n: tf.Tensor2D;
  hn: tf.Tensor2D;
}

/** Per-batch (training) or cached (inference) rearrangements of the parameters; see CaptionModel.derived. */
type DerivedWeights = {
  recurrent: tf.Tensor2D;
  recurrentBias: tf.Tensor1D;
  keysKernel: tf.Tensor2D;
  keysBias: tf.Tensor1D;
  v2: tf.Tensor2D;
  inputBias: tf.Tensor1D;
  kernelContext: tf.Tensor2D;
  kernelEmbedding: tf.Tensor2D;
};

const DERIVED_SOURCES = [
  'gru/recurrent_kernel',
  'gru/kernel',
  'gru/bias',
  'attention/W1/kernel',
  'attention/W1/bias',
  'attention/W2/kernel',
  'attention/W2/bias',
  'attention/V/kernel',
];

/**
 * The file-system half of save/load, imported lazily through a computed specifier: bundlers leave
 * it out, so browser builds of the inference code never pull in node:fs.
 */
const IO_MODULE = './io.js';
/** The native (onnxruntime-node) decoding engine, Node only, imported the same way. */
const NATIVE_DECODE_MODULE = './native/decode-engine.js';
const NATIVE_RUNTIME_MODULE = './native/runtime.js';

let modelCounter = 0;

export class CaptionModel {
  readonly config: CaptionModelConfig;
  /** Trainable variables, in `parameterNames` order. */
  readonly variables: tf.Variable[];
  readonly parameterNames: string[];
  private readonly byName = new Map<string, tf.Variable>();
  private derivedCache: { key: object[]; weights: DerivedWeights } | null = null;
  /**
   * Where greedyDecode/beamSearch/sampleDecode run their decoder steps when the call names no
   * engine; null = the default (native in Node where onnxruntime-node runs, see decode.ts
   * setDefaultStepEngine; TF.js otherwise). `useEngine()` sets it.
   */
  stepEngine: StepEngine | null = null;

  protected constructor(config: CaptionModelConfig, values: Map<string, tf.Tensor>) {
    this.config = { ...config };
    const prefix = `caption_model_${++modelCounter}`;
    const specs = parameterSpecs(config);
    this.parameterNames = specs.map((s) => s.name);
    this.variables = specs.map((spec) => {
      const value = values.get(spec.name);
      if (!value) throw new CaptionerError(`model weights: missing parameter ${spec.name}`);
      if (!tf.util.arraysEqual(value.shape, spec.shape)) {
        throw new CaptionerError(
          `model weights: ${spec.name} has shape [${value.shape}], the config needs [${spec.shape}]`,
        );
      }
      const v = tf.variable(value.asType('float32'), true, `${prefix}/${spec.name}`);
      this.byName.set(spec.name, v);
      return v;
    });
  }

  /** A freshly initialized model; the same seed gives identical weights. */
  static create(config: CaptionModelConfig, seed = 0): CaptionModel {
    validateConfig(config);
    const random = seededRandom(seed);
    const values = new Map<string, tf.Tensor>();
    for (const spec of parameterSpecs(config)) values.set(spec.name, tf.tensor(initialValues(spec, random), spec.shape));
    const model = new CaptionModel(config, values);
    tf.dispose([...values.values()]);
    return model;
  }

  /** A model from named weights (e.g. decoded from a saved model); weights are copied. */
  static fromWeights(config: CaptionModelConfig, weights: tf.NamedTensorMap): CaptionModel {
    validateConfig(config);
    return new CaptionModel(config, new Map(Object.entries(weights)));
  }

  protected p(name: string): tf.Variable {
    const v = this.byName.get(name);
    if (!v) throw new Error(`unknown parameter ${name}`);
    return v;
  }

  /** Current weights by parameter name (the variables themselves; do not dispose). */
  namedWeights(): tf.NamedTensorMap {
    return Object.fromEntries(this.parameterNames.map((n) => [n, this.p(n)]));
  }

  // ---------------------------------------------------------------- inference building blocks

  /** Encoder: relu(F·We + be), [B, L, D] → [B, L, E]. */
  encode(features: tf.Tensor3D): tf.Tensor3D {
    this.checkFeatures(features);
    const [B, L, D] = features.shape;
    return tf.tidy(() =>
      tf.fused
        .matMul({ a: features.reshape([B * L, D]), b: this.p('encoder/kernel'), bias: this.p('encoder/bias'), activation: 'relu' })
        .reshape([B, L, this.config.embeddingDim]),
    );
  }

  /**
   * The step-independent half of the attention score, once per image: 2·(enc·W1 + b1).
   * Scores use tanh(u) = 2σ(2u) − 1, so V·tanh(u) = 2V·σ(2u) − ΣV: the constant cancels in the
   * softmax over locations, and σ is a fast XNNPACK kernel on wasm where tanh is ~7x slower.
   */
  attentionKeys(encoded: tf.Tensor3D): tf.Tensor3D {
    const [B, L, E] = encoded.shape;
    const { keysKernel, keysBias } = this.derived();
    return tf.tidy(() =>
      tf.fused.matMul({ a: encoded.reshape([B * L, E]), b: keysKernel, bias: keysBias }).reshape([B, L, this.config.attentionUnits]),
    );
  }

  /** GRU state before the first word. */
  initialHidden(batch: number): tf.Tensor2D {
    return tf.zeros([batch, this.config.units]);
  }

  /**
   * One decoding step for a batch: attend with the previous state, feed [context, Emb(prev)] to the
   * GRU (continuing from `hidden`), project to vocabulary logits. `keys` (from attentionKeys) can be
   * passed to avoid recomputing them every step.
   */
  step(encoded: tf.Tensor3D, prevTokens: tf.Tensor1D, hidden: tf.Tensor2D, keys?: tf.Tensor3D): StepResult {
    return tf.tidy(() => {
      const w = this.derived();
      const hq = tf.fused.matMul({ a: hidden, b: w.recurrent, bias: w.recurrentBias });
      const [hg, q] = tf.split(hq, [3 * this.config.units, this.config.attentionUnits], 1) as [tf.Tensor2D, tf.Tensor2D];
      const attn = this.attend(keys ?? this.attentionKeys(encoded), encoded, q, w.v2);
      const embedded = tf.gather(this.p('embedding/embeddings'), prevTokens.toInt()) as tf.Tensor2D;
      const xg = tf.fused.matMul({ a: tf.concat([attn.context, embedded], 1), b: this.p('gru/kernel'), bias: w.inputBias }) as tf.Tensor2D;
      const gru = gruCell(xg, hg, hidden);
      const logits = this.outputLogits(gru.h);
      return { logits, hidden: gru.h, attention: attn.weights };
    });
  }

  /**
   * Weights derived from the variables, rebuilt only when a source variable changes (an optimizer
   * update assigns new data). Besides saving the copies, this keeps their tensor ids stable, which
   * lets tfjs-wasm reuse its packed XNNPACK matMul operators across decoding steps.
   */
  private derived(): DerivedWeights {
    const key = DERIVED_SOURCES.map((n) => this.p(n).dataId);
    if (this.derivedCache && this.derivedCache.key.every((id, i) => id === key[i])) return this.derivedCache.weights;
    if (this.derivedCache) tf.dispose(Object.values(this.derivedCache.weights));
    const weights: DerivedWeights = tf.tidy(() => {
      const width = 3 * this.config.units;
      const gruBias = this.p('gru/bias').reshape([-1]);
      // Rank-1 slices of the flat bias: tfjs-wasm's fused matMul rejects a bias whose data is rank 2.
      const inputBias = gruBias.slice(0, width) as tf.Tensor1D;
      const hiddenBias = gruBias.slice(width, width) as tf.Tensor1D;
      const [kernelContext, kernelEmbedding] = tf.split(this.p('gru/kernel'), 2, 0) as [tf.Tensor2D, tf.Tensor2D];
      return {
        // [h·Wh + bh | h·2W2 + 2b2] as one matMul: the GRU's recurrent gates and the attention query.
        recurrent: tf.concat([this.p('gru/recurrent_kernel'), this.p('attention/W2/kernel').mul(2)], 1) as tf.Tensor2D,
        recurrentBias: tf.concat([hiddenBias, this.p('attention/W2/bias').mul(2)]) as tf.Tensor1D,
        keysKernel: this.p('attention/W1/kernel').mul(2) as tf.Tensor2D,
        keysBias: this.p('attention/W1/bias').mul(2) as tf.Tensor1D,
        v2: this.p('attention/V/kernel').mul(2) as tf.Tensor2D,
        inputBias,
        kernelContext,
        kernelEmbedding,
      };
    });
    Object.values(weights).forEach((t) => tf.keep(t));
    this.derivedCache = { key, weights };
    return weights;
  }

  /** Bahdanau attention in the sigmoid domain (see attentionKeys); `query` = 2·(h·W2 + b2). */
  private attend(keys: tf.Tensor3D, encoded: tf.Tensor3D, query: tf.Tensor2D, v2: tf.Tensor2D) {
    const [B, L, A] = keys.shape;
    const squashed = tf.sigmoid(tf.add(keys, query.reshape([B, 1, A]))) as tf.Tensor3D;
    const scores = tf.matMul(squashed.reshape([B * L, A]), v2).reshape([B, L]);
    const weights = tf.softmax(scores) as tf.Tensor2D;
    const context = tf.matMul(weights.reshape([B, 1, L]), encoded).reshape([B, encoded.shape[2]]) as tf.Tensor2D;
    return { context, weights, squashed };
  }

  private outputLogits(h: tf.Tensor2D): tf.Tensor2D {
    const o1 = tf.fused.matMul({ a: h, b: this.p('fc1/kernel'), bias: this.p('fc1/bias') });
    return tf.fused.matMul({ a: o1, b: this.p('fc2/kernel'), bias: this.p('fc2/bias') }) as tf.Tensor2D;
  }

  // ---------------------------------------------------------------- training loss

  /**
   * Masked mean cross-entropy over the non-pad targets tokens[:, 1:], plus the doubly stochastic
   * attention penalty λ·Σ_b Σ_l (1 − Σ_t α_btl)² (sum over each caption's non-pad steps), both
   * divided by the number of non-pad targets. Differentiable: under tf.grad / variableGrads /
   * optimizer.minimize the gradient comes from the analytic backward pass.
   */
  loss(features: tf.Tensor3D, tokens: tf.Tensor2D, opts: LossOptions = {}): tf.Scalar {
    const recording = (tf.engine().state as unknown as { gradientDepth: number }).gradientDepth > 0;
    if (!recording) return tf.tidy(() => this.forwardBackward(features, tokens, opts, false).loss);
    const withGradients = tf.customGrad(((...args: unknown[]) => {
      const save = args[args.length - 1] as tf.GradSaveFunc;
      const result = this.forwardBackward(features, tokens, opts, true);
      save(result.grads!);
      return {
        value: result.loss,
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => saved.map((g) => g.mul(dy)),
      };
    }) as Parameters<typeof tf.customGrad>[0]);
    return withGradients(...this.variables) as tf.Scalar;
  }

  /** Loss and its gradient for every variable, without autodiff. */
  lossAndGradients(features: tf.Tensor3D, tokens: tf.Tensor2D, opts: LossOptions = {}): LossAndGradients {
    let count = 0;
    const [loss, ...grads] = tf.tidy(() => {
      const r = this.forwardBackward(features, tokens, opts, true);
      count = r.tokens;
      return [r.loss, ...r.grads!];
    });
    return { loss: loss as tf.Scalar, grads, tokens: count };
  }

  /** Call inside tf.tidy. */
  private forwardBackward(
    features: tf.Tensor3D,
    tokens: tf.Tensor2D,
    opts: LossOptions,
    withGradients: boolean,
  ): { loss: tf.Scalar; grads?: tf.Tensor[]; tokens: number } {
    this.checkFeatures(features);
    if (tokens.rank !== 2 || tokens.shape[0] !== features.shape[0]) {
      throw new CaptionerError(`loss: tokens must be [B, T] with B = ${features.shape[0]}, got [${tokens.shape}]`);
    }
    if (tokens.shape[1] < 2) throw new CaptionerError(`loss: captions need at least 2 tokens, got ${tokens.shape[1]}`);
    const { vocabSize: V, embeddingDim: E, units: U, attentionUnits: A } = this.config;
    const [B, L, D] = features.shape;
    const layout = layoutBatch(tokens.dataSync() as Int32Array, B, tokens.shape[1]);
    checkTokenRange(layout.inputIds, V);
    checkTokenRange(layout.targets, V);
    const S = layout.steps;
    const N = layout.validRows.length;
    const penalty = opts.attentionPenalty ?? 0;
    const T1 = tokens.shape[1] - 1;
    if (opts.dropoutMask && opts.dropoutMask.length !== B * T1 * U) {
      throw new CaptionerError(`loss: dropoutMask must hold [B, T−1, U] = [${B}, ${T1}, ${U}] values, got ${opts.dropoutMask.length}`);
    }
    if (N === 0) {
      return { loss: tf.scalar(0), grads: withGradients ? this.variables.map((v) => tf.zerosLike(v)) : undefined, tokens: 0 };
    }

    // ---- once per batch: encoder, attention keys, recurrent weights, embeddings of every step
    phase('forward: encoder, keys, embeddings');
    const features2d = features.reshape([B * L, D]) as tf.Tensor2D;
    const enc2d = tf.fused.matMul({ a: features2d, b: this.p('encoder/kernel'), bias: this.p('encoder/bias'), activation: 'relu' }) as tf.Tensor2D;
    const encoded = enc2d.reshape([B, L, E]) as tf.Tensor3D;
    const { keysKernel, keysBias, v2, recurrent, recurrentBias, inputBias, kernelContext, kernelEmbedding } = this.derived();
    const keys = tf.fused.matMul({ a: enc2d, b: keysKernel, bias: keysBias }).reshape([B, L, A]) as tf.Tensor3D;
    const embedded = tf.gather(this.p('embedding/embeddings'), tf.tensor1d(layout.inputIds, 'int32')) as tf.Tensor2D;
    const xEmbedded = splitRows(tf.fused.matMul({ a: embedded, b: kernelEmbedding, bias: inputBias }) as tf.Tensor2D, S);

    // ---- the recurrence: attention + GRU only
    const records: StepRecord[] = [];
    const hs: tf.Tensor2D[] = [];
    let h = this.initialHidden(B);
    for (let t = 0; t < S; t++) {
      phase('forward step: h·[Wh|2W2]');
      const hq = tf.fused.matMul({ a: h, b: recurrent, bias: recurrentBias });
      const [hg, q] = tf.split(hq, [3 * U, A], 1) as [tf.Tensor2D, tf.Tensor2D];
      phase('forward step: attention');
      const attn = this.attend(keys, encoded, q, v2);
      phase('forward step: GRU');
      const xg = tf.add(tf.matMul(attn.context, kernelContext), xEmbedded[t]) as tf.Tensor2D;
      const gru = gruCell(xg, hg, h);
      records.push({ hPrev: h, context: attn.context, weights: attn.weights, squashed: attn.squashed, z: gru.z, r: gru.r, n: gru.n, hn: gru.hn });
      hs.push(gru.h);
      h = gru.h;
    }

    // ---- output layers and cross-entropy for all non-pad positions (with their backward)
    phase('output layers, cross-entropy (forward + backward)');
    const allRows = N === S * B;
    const hValid = (allRows ? tf.concat(hs, 0) : tf.gather(tf.concat(hs, 0), tf.tensor1d(layout.validRows, 'int32'))) as tf.Tensor2D;
    // Dropout on what fc1 reads: hDrop = hValid ⊙ m, m = keep/(1−p) per (caption, step, unit).
    const dropMask = opts.dropoutMask ? tf.tensor2d(validRowMask(opts.dropoutMask, layout.validRows, B, T1, U), [N, U]) : null;
    const hDrop = dropMask ? (tf.mul(hValid, dropMask) as tf.Tensor2D) : hValid;
    const o1 = tf.fused.matMul({ a: hDrop, b: this.p('fc1/kernel'), bias: this.p('fc1/bias') }) as tf.Tensor2D;
    const out = this.outputLayer(o1, layout.targets, withGradients);
    let total: tf.Tensor = out.nll;
    let coverageGap: tf.Tensor2D | null = null; // Σ_t α_tl − 1 over non-pad steps, rows with targets only
    if (penalty > 0) {
      let coverage: tf.Tensor = tf.zeros([B, L]);
      for (let t = 0; t < S; t++) {
        const m = tf.tensor2d(layout.mask.subarray(t * B, (t + 1) * B), [B, 1]);
        coverage = tf.add(coverage, tf.mul(records[t].weights, m));
      }
      coverageGap = tf.mul(tf.sub(coverage, 1), tf.tensor2d(layout.hasTarget, [B, 1])) as tf.Tensor2D;
      total = tf.add(total, tf.mul(penalty, tf.sum(tf.square(coverageGap))));
    }
    const loss = tf.div(total, N) as tf.Scalar;
    if (!withGradients) {
      phase(null);
      return { loss, tokens: N };
    }

    // ================================================================ backward
    // dlogits = (softmax − onehot)/N: outputLayer returned the products of (softmax − onehot); scale them.
    const scale = 1 / N;
    const dFc2 = out.dFc2!.mul(scale);
    const dFc2Bias = out.dFc2Bias!.mul(scale);
    const dO1 = out.dO1!.mul(scale) as tf.Tensor2D;
    const dFc1 = matMulTN(hDrop, dO1);
    const dFc1Bias = columnSum(dO1);
    const dHDrop = tf.matMul(dO1, transpose2d(this.p('fc1/kernel'))) as tf.Tensor2D;
    const dHValid = dropMask ? (tf.mul(dHDrop, dropMask) as tf.Tensor2D) : dHDrop;
    let dHs: tf.Tensor2D[];
    if (allRows) dHs = splitRows(dHValid, S);
    else {
      // Scatter back to time-major rows; pad rows point at an appended zero row.
      const source = new Int32Array(S * B).fill(N);
      layout.validRows.forEach((r, i) => (source[r] = i));
      const padded = tf.concat([dHValid, tf.zeros([1, U])], 0);
      dHs = splitRows(tf.gather(padded, tf.tensor1d(source, 'int32')) as tf.Tensor2D, S);
    }

    // Penalty: d/dα_btl of (λ/N)·Σ(Σ_t α − 1)² = (2λ/N)·gap_bl on non-pad steps.
    const gapValues = coverageGap ? coverageGap.mul(2 * penalty * scale).dataSync() : null;

    phase('backward: BPTT setup');
    const acc = {
      keys: new Float32Array(B * L * A),
      v2: new Float32Array(A),
      encoded: new Float32Array(B * L * E),
    };
    const kernelContextT = transpose2d(kernelContext);
    const recurrentT = transpose2d(recurrent);
    const dXgs: tf.Tensor2D[] = new Array(S);
    const dHqs: tf.Tensor2D[] = new Array(S);
    let dhNext: tf.Tensor2D | null = null;
    for (let t = S - 1; t >= 0; t--) {
      const rec = records[t];
      phase('backward step: GRU (JS)');
      const dh = (dhNext ? tf.add(dHs[t], dhNext) : dHs[t]) as tf.Tensor2D;
      const g = gruCellBackward(dh, rec);
      phase('backward step: dContext matMul');
      const dContext = tf.matMul(g.dXg, kernelContextT) as tf.Tensor2D;
      phase('backward step: attention (JS)');
      const dq = attentionBackward(rec, encoded, v2, dContext, gapValues, layout.mask.subarray(t * B, (t + 1) * B), acc);
      phase('backward step: dh matMul');
      dXgs[t] = g.dXg;
      dHqs[t] = tf.concat([g.dHg, dq], 1);
      dhNext = tf.add(g.dhDirect, tf.matMul(dHqs[t], recurrentT)) as tf.Tensor2D;
    }

    // ---- per-step gradients reduced with one matMul each
    phase('backward: GRU/attention weight gradients');
    // A ones column makes the last row of each product the bias gradient.
    const ones = tf.ones([S * B, 1]);
    const dXgAll = tf.concat(dXgs, 0) as tf.Tensor2D;
    const dHqAll = tf.concat(dHqs, 0) as tf.Tensor2D;
    const contexts = tf.concat(records.map((r) => r.context), 0);
    const previousStates = tf.concat(records.map((r) => r.hPrev), 0);
    // [context, embedding, 1]ᵀ·dXg = [dKernel (context rows, then embedding rows); dInputBias]
    const [dKernel, dInputBias] = rowChunks(matMulTN(tf.concat([contexts, embedded, ones], 1) as tf.Tensor2D, dXgAll), 2 * E);
    // [h_{t-1}, 1]ᵀ·dHq = [dWh | 2·dW2; dbh | 2·db2]
    const [dRecurrentAll, dRecurrentBias] = rowChunks(matMulTN(tf.concat([previousStates, ones], 1) as tf.Tensor2D, dHqAll), U);
    const [dRecurrent, dW2x2] = tf.split(dRecurrentAll, [3 * U, A], 1);
    const [dHiddenBias, dB2x2] = tf.split(dRecurrentBias.reshape([3 * U + A]), [3 * U, A]);
    const dGruBias = tf.stack([dInputBias.reshape([3 * U]), dHiddenBias]);
    const dEmbedded = tf.matMul(dXgAll, transpose2d(kernelEmbedding)) as tf.Tensor2D;
    const dEmbeddings = scatterAddRows(dEmbedded, layout.inputIds, V);

    phase('backward: attention keys, encoder');
    const dKeys = tf.mul(tf.tensor2d(acc.keys, [B * L, A]), tf.reshape(v2, [1, A])) as tf.Tensor2D;
    const dW1 = matMulTN(enc2d, dKeys).mul(2);
    const dB1 = columnSum(dKeys).mul(2);
    const dV = tf.tensor2d(acc.v2, [A, 1]).mul(2);
    const dEncoded = tf.add(tf.tensor2d(acc.encoded, [B * L, E]), tf.matMul(dKeys, transpose2d(keysKernel)));
    const dEncoderPre = tf.mul(dEncoded, tf.step(enc2d)) as tf.Tensor2D;
    const dEncoder = matMulTN(features2d, dEncoderPre);
    const dEncoderBias = columnSum(dEncoderPre);

    phase(null);
    const grads: Record<string, tf.Tensor> = {
      'encoder/kernel': dEncoder,
      'encoder/bias': dEncoderBias,
      'attention/W1/kernel': dW1,
      'attention/W1/bias': dB1,
      'attention/W2/kernel': dW2x2.mul(2),
      'attention/W2/bias': dB2x2.mul(2),
      'attention/V/kernel': dV,
      'embedding/embeddings': dEmbeddings,
      'gru/kernel': dKernel,
      'gru/recurrent_kernel': dRecurrent,
      'gru/bias': dGruBias,
      'fc1/kernel': dFc1,
      'fc1/bias': dFc1Bias,
      'fc2/kernel': dFc2,
      'fc2/bias': dFc2Bias,
    };
    return { loss, grads: this.parameterNames.map((n) => grads[n]), tokens: N };
  }

  /**
   * fc2 and the cross-entropy over all rows of o1 = fc1(h) at once (one [N, U]·[U, V] matMul).
   * Returns Σ −log p(target) and, with gradients, the unscaled products of
   * dlogits = softmax − onehot. (Blocks of rows were tried: smaller matMuls made it ~1.5x slower.)
   */
  private outputLayer(o1: tf.Tensor2D, targets: Int32Array, withGradients: boolean) {
    const [N, U] = o1.shape;
    const V = this.config.vocabSize;
    const flat = new Int32Array(N);
    const pairs = new Int32Array(2 * N);
    for (let i = 0; i < N; i++) {
      flat[i] = i * V + targets[i];
      pairs[2 * i] = i;
      pairs[2 * i + 1] = targets[i];
    }
    const probs = tf.softmax(tf.fused.matMul({ a: o1, b: this.p('fc2/kernel'), bias: this.p('fc2/bias') }));
    const pTarget = tf.gather(probs.reshape([N * V]), tf.tensor1d(flat, 'int32'));
    // p underflows to 0 only for logit gaps > ~87; the clamp keeps the loss finite there.
    const nll = tf.neg(tf.sum(tf.log(tf.maximum(pTarget, 1e-38))));
    if (!withGradients) return { nll };
    const dLogits = tf.tensorScatterUpdate(probs, tf.tensor2d(pairs, [N, 2], 'int32'), tf.sub(pTarget, 1)) as tf.Tensor2D;
    // [o1 | 1]ᵀ·dLogits: the kernel gradient and, in its last row, the bias gradient.
    const withOnes = tf.concat([o1, tf.ones([N, 1])], 1) as tf.Tensor2D;
    const [dFc2, dFc2Bias] = rowChunks(matMulTN(withOnes, dLogits), U);
    const dO1 = tf.matMul(dLogits, transpose2d(this.p('fc2/kernel'))) as tf.Tensor2D;
    return { nll, dFc2, dFc2Bias: dFc2Bias.reshape([V]) as tf.Tensor1D, dO1 };
  }

  private checkFeatures(features: tf.Tensor): void {
    const { locations, featureDim } = this.config;
    if (features.rank !== 3 || features.shape[1] !== locations || features.shape[2] !== featureDim) {
      throw new CaptionerError(`features must be [B, ${locations}, ${featureDim}], got [${features.shape}]`);
    }
  }

  /** Saves to `dir` atomically in TF.js format (see artifacts.ts for the file layout). */
  async save(dir: string, extras: SaveExtras): Promise<void> {
    const { saveModel } = (await import(IO_MODULE)) as typeof import('./io.js');
    await saveModel(dir, this, extras);
  }

  /**
   * Loads a folder written by save(); missing files or mismatched shapes raise a CaptionerError
   * naming the file. `engine` picks where decoding runs: 'auto' (default) attaches the native
   * onnxruntime engine (`stepEngine`) when onnxruntime-node loads and the TF.js backend is not
   * tfjs-node; 'tfjs' never does; 'onnx' requires it.
   */
  static async load(dir: string, opts: { engine?: 'auto' | 'onnx' | 'tfjs' } = {}): Promise<LoadedCaptionModel> {
    const { loadModel } = (await import(IO_MODULE)) as typeof import('./io.js');
    const model = await loadModel(dir);
    await model.useEngine(opts.engine ?? 'auto');
    return model;
  }

  /**
   * Picks where decoding runs (Node): 'auto' attaches the native onnxruntime engine when
   * onnxruntime-node loads and the TF.js backend is not tfjs-node, 'onnx' requires it, 'tfjs'
   * detaches it. Returns the engine in use.
   */
  async useEngine(engine: 'auto' | 'onnx' | 'tfjs'): Promise<'onnx' | 'tfjs'> {
    (this.stepEngine as { release?: () => void } | null)?.release?.();
    // Pinned, so Node's default (native) engine does not take over.
    this.stepEngine = tfjsStepEngine(this);
    if (engine === 'tfjs') return 'tfjs';
    const runtime = (await import(NATIVE_RUNTIME_MODULE)) as typeof import('./native/runtime.js');
    if ((await runtime.resolveTrainEngine(engine, tf.getBackend())) !== 'onnx') return 'tfjs';
    const native = (await import(NATIVE_DECODE_MODULE)) as typeof import('./native/decode-engine.js');
    this.stepEngine = await native.nativeStepEngine(this);
    return 'onnx';
  }

  dispose(): void {
    (this.stepEngine as { release?: () => void } | null)?.release?.();
    this.stepEngine = null;
    if (this.derivedCache) tf.dispose(Object.values(this.derivedCache.weights));
    this.derivedCache = null;
    tf.dispose(this.variables);
  }
}

function validateConfig(c: CaptionModelConfig): void {
  for (const key of ['vocabSize', 'locations', 'featureDim', 'embeddingDim', 'units', 'attentionUnits'] as const) {
    const v = c[key];
    if (!Number.isInteger(v) || v < 1) throw new CaptionerError(`model config: ${key} must be a positive integer, got ${v}`);
  }
  if (c.vocabSize < 2) throw new CaptionerError(`model config: vocabSize must be >= 2, got ${c.vocabSize}`);
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

/**
 * Keras GRU cell, reset_after=True (Keras 2 default), sigmoid recurrent activation, gates z, r, h:
 *   z = σ(xz + hz),  r = σ(xr + hr),  n = tanh(xn + r ⊙ hn),  h' = z ⊙ h + (1 − z) ⊙ n
 * with xg = x·Wx + bx and hg = h·Wh + bh. `h` is the previous state (the tutorial's bug used zeros).
 */
export function gruCell(xg: tf.Tensor2D, hg: tf.Tensor2D, h: tf.Tensor2D) {
  const [xz, xr, xn] = tf.split(xg, 3, 1);
  const [hz, hr, hn] = tf.split(hg, 3, 1) as tf.Tensor2D[];
  const z = tf.sigmoid(tf.add(xz, hz)) as tf.Tensor2D;
  const r = tf.sigmoid(tf.add(xr, hr)) as tf.Tensor2D;
  const n = tf.tanh(tf.add(xn, tf.mul(r, hn))) as tf.Tensor2D;
  const hNext = tf.add(n, tf.mul(z, tf.sub(h, n))) as tf.Tensor2D;
  return { h: hNext, z, r, n, hn };
}

/**
 * Backward of gruCell for one step, elementwise in one JS loop:
 *   dz = dh'⊙(h − n),  dn = dh'⊙(1 − z),  dan = dn⊙(1 − n²),  daz = dz⊙z(1 − z),
 *   dar = dan⊙hn⊙r(1 − r);  dXg = [daz, dar, dan],  dHg = [daz, dar, dan⊙r],  dh = dh'⊙z (+ dHg·Whᵀ by the caller)
 */
function gruCellBackward(dh: tf.Tensor2D, rec: StepRecord) {
  const [B, U] = dh.shape;
  const dXg = new Float32Array(B * 3 * U);
  const dHg = new Float32Array(B * 3 * U);
  const dDirect = new Float32Array(B * U);
  {
    const d = valuesOf(dh), z = valuesOf(rec.z), r = valuesOf(rec.r), n = valuesOf(rec.n);
    const hn = valuesOf(rec.hn), hp = valuesOf(rec.hPrev);
    for (let b = 0; b < B; b++) {
      const row = b * U;
      const gate = b * 3 * U;
      for (let u = 0; u < U; u++) {
        const i = row + u;
        const zi = z[i], ri = r[i], ni = n[i], di = d[i];
        const daz = di * (hp[i] - ni) * zi * (1 - zi);
        const dan = di * (1 - zi) * (1 - ni * ni);
        const dar = dan * hn[i] * ri * (1 - ri);
        dXg[gate + u] = daz;
        dXg[gate + U + u] = dar;
        dXg[gate + 2 * U + u] = dan;
        dHg[gate + u] = daz;
        dHg[gate + U + u] = dar;
        dHg[gate + 2 * U + u] = dan * ri;
        dDirect[i] = di * zi;
      }
    }
  }
  return {
    dXg: tf.tensor2d(dXg, [B, 3 * U]),
    dHg: tf.tensor2d(dHg, [B, 3 * U]),
    dhDirect: tf.tensor2d(dDirect, [B, U]),
  };
}

/**
 * Backward of one attention step, fused in JS loops over the wasm heap (tfjs would need ~8 full
 * [B, L, A] passes). With s = σ(pre), pre = keys + query (sigmoid domain, see attentionKeys):
 *   dα_l = dc·enc_l (+ penalty),  de = α ⊙ (dα − Σ α⊙dα),  dpre = v2 ⊙ de·s(1 − s)
 * returns dquery = Σ_l dpre and accumulates Σ_t de·s(1 − s) (dkeys before the v2 factor, applied
 * once after the loop), dv2 += Σ de·s and denc += α ⊗ dc.
 */
function attentionBackward(
  rec: StepRecord,
  encoded: tf.Tensor3D,
  v2: tf.Tensor2D,
  dContext: tf.Tensor2D,
  gap: Float32Array | Uint8Array | Int32Array | null,
  stepMask: Float32Array,
  acc: { keys: Float32Array; v2: Float32Array; encoded: Float32Array },
): tf.Tensor2D {
  const [B, L, A] = rec.squashed.shape;
  const E = encoded.shape[2];
  const dQuery = new Float32Array(B * A);
  const dAlpha = new Float64Array(L);
  const queryRow = new Float64Array(A);
  const accKeys = acc.keys;
  const accV = acc.v2;
  const accEnc = acc.encoded;
  const s = valuesOf(rec.squashed), alpha = valuesOf(rec.weights), enc = valuesOf(encoded);
  const v = valuesOf(v2), dc = valuesOf(dContext);
  for (let b = 0; b < B; b++) {
    const dcRow = b * E;
    let weighted = 0;
    for (let l = 0; l < L; l++) {
      const encRow = (b * L + l) * E;
      const a = alpha[b * L + l];
      let dot = 0;
      for (let e = 0; e < E; e++) {
        const d = dc[dcRow + e];
        dot += d * enc[encRow + e];
        accEnc[encRow + e] += a * d;
      }
      if (gap && stepMask[b] !== 0) dot += gap[b * L + l];
      dAlpha[l] = dot;
      weighted += a * dot;
    }
    queryRow.fill(0);
    for (let l = 0; l < L; l++) {
      const de = alpha[b * L + l] * (dAlpha[l] - weighted);
      const base = (b * L + l) * A;
      for (let a = 0; a < A; a++) {
        const si = s[base + a];
        const w = de * (si - si * si);
        accKeys[base + a] += w;
        queryRow[a] += w;
        accV[a] += de * si;
      }
    }
    const qRow = b * A;
    for (let a = 0; a < A; a++) dQuery[qRow + a] = queryRow[a] * v[a];
  }
  return tf.tensor2d(dQuery, [B, A]);
}

/**
 * Splits [n·rows, cols] into n [rows, cols] tensors. tf.split/tf.slice on wasm copy the whole
 * source out of the heap for every piece (readSync), which made the per-step split of a
 * [2176, 1536] tensor cost ~0.3 s; this copies each piece once.
 */
function splitRows(x: tf.Tensor2D, n: number): tf.Tensor2D[] {
  return rowChunks(x, x.shape[0] / n);
}

/** Consecutive row blocks of at most `rows` rows. */
function rowChunks(x: tf.Tensor2D, rows: number): tf.Tensor2D[] {
  const [total, cols] = x.shape;
  const out: tf.Tensor2D[] = [];
  for (let start = 0; start < total; start += rows) {
    const end = Math.min(total, start + rows);
    // A fresh heap view per piece: creating a tensor may grow (and detach) the wasm heap.
    out.push(tf.tensor2d(valuesOf(x).slice(start * cols, end * cols), [end - start, cols]));
  }
  return out;
}

/** Row-major 2-D transpose (tfjs-wasm's transposed matMul takes a slow path, so operands are transposed explicitly). */
function transpose2d(x: tf.Tensor): tf.Tensor2D {
  return tf.transpose(x as tf.Tensor2D) as tf.Tensor2D;
}

/** Inner dimension above which matMulTN splits its reduction (see there). */
const REDUCTION_CHUNK = 256;

/**
 * aᵀ·b for a [K, M], b [K, N] (a weight gradient: K = rows of the batch), transposing whichever
 * side is cheaper (a, or b and the result). XNNPACK on wasm slows down ~1.6x when K is in the
 * thousands, so long reductions are summed over blocks of REDUCTION_CHUNK rows.
 */
function matMulTN(a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D {
  const [K, m] = a.shape;
  const n = b.shape[1];
  const transposeResult = a.size > b.size + m * n;
  const [left, right] = transposeResult ? [b, a] : [a, b];
  let product: tf.Tensor2D;
  if (K <= 2 * REDUCTION_CHUNK) product = tf.matMul(transpose2d(left), right);
  else {
    const rightChunks = rowChunks(right, REDUCTION_CHUNK);
    product = tf.addN(rowChunks(left, REDUCTION_CHUNK).map((l, i) => tf.matMul(transpose2d(l), rightChunks[i]))) as tf.Tensor2D;
  }
  return transposeResult ? transpose2d(product) : product;
}

/** Column sums of [M, N] as a [1, M]·[M, N] matMul (a reduction over axis 0 transposes on wasm). */
function columnSum(x: tf.Tensor2D): tf.Tensor1D {
  return tf.matMul(tf.ones([1, x.shape[0]]), x).reshape([x.shape[1]]);
}

/** out[ids[i]] += rows[i] for [V, E] (the embedding gradient; tfjs-wasm lacks UnsortedSegmentSum). */
function scatterAddRows(rows: tf.Tensor2D, ids: Int32Array, vocabSize: number): tf.Tensor2D {
  const E = rows.shape[1];
  const out = new Float32Array(vocabSize * E);
  const values = valuesOf(rows);
  for (let i = 0; i < ids.length; i++) {
    const src = i * E;
    const dst = ids[i] * E;
    for (let e = 0; e < E; e++) out[dst + e] += values[src + e];
  }
  return tf.tensor2d(out, [vocabSize, E]);
}
