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
 * Top to bottom: hyperparameters, parameters, layers, one decoder step, the training loss — plain
 * TF.js functions of the weights, differentiable by autodiff — then `CaptionModel`, which holds the
 * weights as TF.js variables and runs the same model fast: training through the hand-derived
 * backward pass of fused-wasm.ts, decoding with that file's cached sigmoid-domain attention. Tests
 * hold the fast path to this file (model.test.ts: autodiff of `captionLoss`, finite differences,
 * `step` against `decoderStep`). Saving and loading (artifacts.ts, io.ts) and the native engine
 * (native/) depend on this file, not the other way round.
 *
 * Shapes: B images, L locations, D feature channels, E embedding, U GRU units, A attention units,
 * V vocabulary, T caption tokens.
 */
import { tf } from '@captioner/tf';
import { CaptionerError, seededRandom, type EngineName } from '@captioner/core';
import { initialValues, type Init } from './init.js';
import { attentionKeys as sigmoidAttentionKeys, DerivedWeightsCache, forwardBackward, sigmoidAttention } from './fused-wasm.js';
import type { FeatureInfo, TrainingInfo, Vocabulary } from './contract.js';
import type { StepEngine } from './step-engine.js';

// The caption-batch layout of the fast paths (fused-wasm.ts), also used by native/trainer.ts.
export { checkTokenRange, layoutBatch, validRowMask, type BatchLayout } from './batch.js';

// ---------------------------------------------------------------- hyperparameters

export interface CaptionModelConfig {
  /** V: output classes = the tokenizer's numWords + 1 (id 0 = <pad> is never predicted but keeps ids aligned). */
  vocabSize: number;
  /** L: feature-grid locations attended over (8x8 = 64 for InceptionV3 mixed10, 7x7 = 49 for MobileNetV2 Conv_1). */
  locations: number;
  /** D: channels of each location's feature vector (2048 for mixed10, 1280 for Conv_1). */
  featureDim: number;
  /** E: width of the encoded features and of the word embeddings (the GRU reads [context, embedding], 2E). */
  embeddingDim: number;
  /** U: width of the GRU state, and of fc1. */
  units: number;
  /** A: hidden width of the attention score MLP (W1, W2, V). */
  attentionUnits: number;
}

/** The tutorial's E, U, A. */
export const DEFAULT_MODEL_DIMS = { embeddingDim: 256, units: 512, attentionUnits: 512 } as const;

function validateConfig(c: CaptionModelConfig): void {
  for (const key of ['vocabSize', 'locations', 'featureDim', 'embeddingDim', 'units', 'attentionUnits'] as const) {
    const v = c[key];
    if (!Number.isInteger(v) || v < 1) throw new CaptionerError(`model config: ${key} must be a positive integer, got ${v}`);
  }
  if (c.vocabSize < 2) throw new CaptionerError(`model config: vocabSize must be >= 2, got ${c.vocabSize}`);
}

// ---------------------------------------------------------------- parameters

interface ParamSpec {
  name: string;
  shape: number[];
  /** Keras initializer (init.ts). */
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

/** Parameters by name (see parameterSpecs): a model's variables, or any tensors of those shapes. */
export type Weights = tf.NamedTensorMap;

// ---------------------------------------------------------------- layers

/** A Dense layer, x·kernel + bias (then ReLU if asked), as one fused TF.js op. */
function dense(x: tf.Tensor2D, kernel: tf.Tensor, bias: tf.Tensor, activation?: 'relu'): tf.Tensor2D {
  return tf.fused.matMul({ a: x, b: kernel as tf.Tensor2D, bias, activation }) as tf.Tensor2D;
}

/** Encoder: Dense + ReLU on each location's feature vector, once per image. */
export function encoder(w: Weights, features: tf.Tensor3D): tf.Tensor3D {
  const [B, L, D] = features.shape;
  const encoded = dense(features.reshape([B * L, D]), w['encoder/kernel'], w['encoder/bias'], 'relu'); // [B·L, E]
  return encoded.reshape([B, L, -1]); // [B, L, E]
}

/**
 * Bahdanau (additive) attention, the query being the previous GRU state:
 *   score_l = V·tanh(enc_l·W1 + b1 + h·W2 + b2),  α = softmax over the L locations,  context = Σ_l α_l·enc_l
 */
export function attention(w: Weights, encoded: tf.Tensor3D, hidden: tf.Tensor2D): { context: tf.Tensor2D; weights: tf.Tensor2D } {
  const [B, L, E] = encoded.shape;
  const keys = dense(encoded.reshape([B * L, E]), w['attention/W1/kernel'], w['attention/W1/bias']).reshape([B, L, -1]); // [B, L, A]
  const query = dense(hidden, w['attention/W2/kernel'], w['attention/W2/bias']).expandDims(1); // [B, 1, A]
  const hiddenLayer = tf.tanh(tf.add(keys, query)); // [B, L, A]
  const scores = tf.matMul(hiddenLayer.reshape([B * L, -1]), w['attention/V/kernel']).reshape([B, L]); // [B, L]
  const weights = tf.softmax(scores) as tf.Tensor2D; // [B, L], rows sum to 1
  const context = tf.matMul(weights.reshape([B, 1, L]), encoded).reshape([B, E]) as tf.Tensor2D; // [B, E]
  return { context, weights };
}

/**
 * Keras GRU cell, reset_after=True (Keras 2 default), sigmoid recurrent activation, gates z, r, h:
 *   z = σ(xz + hz),  r = σ(xr + hr),  n = tanh(xn + r ⊙ hn),  h' = z ⊙ h + (1 − z) ⊙ n
 * with xg = x·Wx + bx and hg = h·Wh + bh. `h` is the previous state (the tutorial's bug used zeros).
 */
export function gruCell(xg: tf.Tensor2D, hg: tf.Tensor2D, h: tf.Tensor2D): tf.Tensor2D {
  const [xz, xr, xn] = tf.split(xg, 3, 1); // 3 × [B, U]
  const [hz, hr, hn] = tf.split(hg, 3, 1); // 3 × [B, U]
  const z = tf.sigmoid(tf.add(xz, hz)); // [B, U] update gate
  const r = tf.sigmoid(tf.add(xr, hr)); // [B, U] reset gate
  const n = tf.tanh(tf.add(xn, tf.mul(r, hn))); // [B, U] candidate state
  return tf.add(n, tf.mul(z, tf.sub(h, n))) as tf.Tensor2D; // [B, U] = z ⊙ h + (1 − z) ⊙ n
}

/** The GRU layer for one step: input projection x·Wx + bx, recurrent projection h·Wh + bh, the cell. */
export function gru(w: Weights, x: tf.Tensor2D, h: tf.Tensor2D): tf.Tensor2D {
  const [inputBias, recurrentBias] = tf.unstack(w['gru/bias']); // [3U] each (reset_after: two bias rows)
  const xg = tf.add(tf.matMul(x, w['gru/kernel'] as tf.Tensor2D), inputBias) as tf.Tensor2D; // [B, 3U]
  const hg = tf.add(tf.matMul(h, w['gru/recurrent_kernel'] as tf.Tensor2D), recurrentBias) as tf.Tensor2D; // [B, 3U]
  return gruCell(xg, hg, h); // [B, U]
}

/** fc1 then fc2, from the GRU state to vocabulary logits (fc1 has no activation, as in the tutorial). */
export function outputLayers(w: Weights, h: tf.Tensor2D): tf.Tensor2D {
  const o1 = dense(h, w['fc1/kernel'], w['fc1/bias']); // [B, U]
  return dense(o1, w['fc2/kernel'], w['fc2/bias']); // [B, V]
}

// ---------------------------------------------------------------- one decoder step

// A type alias (not an interface) so it is a tf.TensorContainer and can be returned from tf.tidy.
export type StepResult = {
  /** [B, vocabSize] unnormalized scores for the next token. */
  logits: tf.Tensor2D;
  /** [B, units] the new GRU state. */
  hidden: tf.Tensor2D;
  /** [B, L] attention weights used for this step (rows sum to 1). */
  attention: tf.Tensor2D;
};

/**
 * One decoding step for a batch: attend with the previous state, feed [context, Emb(previous word)]
 * to the GRU (continuing from `hidden`), project to vocabulary logits.
 */
export function decoderStep(w: Weights, encoded: tf.Tensor3D, prevTokens: tf.Tensor1D, hidden: tf.Tensor2D): StepResult {
  const { context, weights } = attention(w, encoded, hidden); // [B, E], [B, L]
  const embedded = tf.gather(w['embedding/embeddings'], prevTokens.toInt()) as tf.Tensor2D; // [B, E]
  const h = gru(w, tf.concat([context, embedded], 1), hidden); // [B, U]
  return { logits: outputLayers(w, h), hidden: h, attention: weights }; // logits [B, V]
}

// ---------------------------------------------------------------- training loss

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
 * The teacher-forced training loss of a batch: at step t the decoder reads tokens[:, t] and predicts
 * tokens[:, t+1]. With N = the number of non-pad targets (<pad> = 0),
 *   loss = ( Σ_{b,t: y_bt ≠ pad} −log p(y_bt)  +  λ·Σ_b Σ_l (1 − Σ_{t: y_bt ≠ pad} α_btl)² ) / N
 * — masked cross-entropy plus the doubly stochastic attention penalty (Xu et al. eq. 14; captions
 * without targets take no part). Both are sums divided by the batch's N, so micro-batches weighted
 * by their token counts give exactly the full-batch loss and gradient.
 */
export function captionLoss(w: Weights, features: tf.Tensor3D, tokens: tf.Tensor2D, opts: LossOptions = {}): tf.Scalar {
  return tf.tidy(() => {
    const [B, L] = features.shape;
    const T = tokens.shape[1];
    const [U, V] = [(w['gru/recurrent_kernel'] as tf.Tensor2D).shape[0], (w['fc2/kernel'] as tf.Tensor2D).shape[1]];
    const penalty = opts.attentionPenalty ?? 0;
    const words = tf.unstack(tokens.toInt(), 1) as tf.Tensor1D[]; // T × [B]
    const dropout = opts.dropoutMask ? tf.unstack(tf.tensor3d(opts.dropoutMask, [B, T - 1, U]), 1) : null; // (T−1) × [B, U]
    const encoded = encoder(w, features); // [B, L, E]
    let h: tf.Tensor2D = tf.zeros([B, U]); // h_0
    let crossEntropy: tf.Tensor = tf.scalar(0); // Σ −log p(target) over non-pad targets
    let targets: tf.Tensor = tf.scalar(0); // N
    let coverage: tf.Tensor = tf.zeros([B, L]); // Σ_t α_t over non-pad steps
    let hasTarget: tf.Tensor = tf.zeros([B, 1]); // 1 for captions with a target
    for (let t = 0; t < T - 1; t++) {
      const { context, weights } = attention(w, encoded, h); // [B, E], [B, L]
      const embedded = tf.gather(w['embedding/embeddings'], words[t]) as tf.Tensor2D; // [B, E]
      h = gru(w, tf.concat([context, embedded], 1), h); // [B, U]; the recurrence carries the undropped state
      const logits = outputLayers(w, dropout ? tf.mul(h, dropout[t]) : h); // [B, V]
      const mask = tf.notEqual(words[t + 1], 0).toFloat(); // [B], 0 where the target is <pad>
      const nll = tf.neg(tf.sum(tf.mul(tf.oneHot(words[t + 1], V).toFloat(), tf.logSoftmax(logits)), 1)); // [B]
      crossEntropy = tf.add(crossEntropy, tf.sum(tf.mul(nll, mask)));
      targets = tf.add(targets, tf.sum(mask));
      coverage = tf.add(coverage, tf.mul(weights, mask.expandDims(1))); // [B, L]
      hasTarget = tf.maximum(hasTarget, mask.expandDims(1)); // [B, 1]
    }
    // Doubly stochastic attention: summed over a caption, each location's weight should be about 1.
    const attentionGap = tf.sum(tf.mul(tf.square(tf.sub(1, coverage)), hasTarget)); // Σ_b Σ_l (1 − Σ_t α_btl)²
    return tf.div(tf.add(crossEntropy, tf.mul(penalty, attentionGap)), tf.maximum(targets, 1)) as tf.Scalar;
  });
}

// ---------------------------------------------------------------- the model object

export interface LossAndGradients {
  /** Masked mean cross-entropy (+ penalty) of the batch. */
  loss: tf.Scalar;
  /** d loss / d variable, aligned with `model.variables`. */
  grads: tf.Tensor[];
  /** Non-pad target positions the mean is over. */
  tokens: number;
}

/** Where decoding runs: 'auto' = native onnxruntime where it loads (Node, not tfjs-node), else TF.js. */
export type EngineChoice = EngineName;

/** What `save()` writes beside the weights (artifacts.ts): the vocabulary, the feature set, the training record. */
export interface SaveExtras {
  vocab: object;
  features: object;
  training?: object;
}

/** A model restored from a saved folder, with what inference needs (contract.ts has the files). */
export type LoadedCaptionModel = CaptionModel & {
  vocab: Vocabulary;
  features: FeatureInfo;
  training?: TrainingInfo;
  /** id → word, from vocab.wordIndex (ids ≥ vocabSize never occur). */
  words: string[];
};

let modelCounter = 0;

export class CaptionModel {
  readonly config: CaptionModelConfig;
  /** Trainable variables, in `parameterNames` order. */
  readonly variables: tf.Variable[];
  readonly parameterNames: string[];
  /** The variables by parameter name. */
  private readonly weights: Weights = {};
  /** The fast path's rearranged weights, rebuilt when the variables change (fused-wasm.ts). */
  private readonly derived = new DerivedWeightsCache();
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
        throw new CaptionerError(`model weights: ${spec.name} has shape [${value.shape}], the config needs [${spec.shape}]`);
      }
      const v = tf.variable(value.asType('float32'), true, `${prefix}/${spec.name}`);
      this.weights[spec.name] = v;
      return v;
    });
  }

  /** A freshly initialized model (Keras initializers, init.ts); the same seed gives identical weights. */
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

  /** Current weights by parameter name (the variables themselves; do not dispose). */
  namedWeights(): Weights {
    return { ...this.weights };
  }

  // ---------------------------------------------------------------- decoding

  /** Encoder: relu(F·We + be), [B, L, D] → [B, L, E]. */
  encode(features: tf.Tensor3D): tf.Tensor3D {
    this.checkFeatures(features);
    return tf.tidy(() => encoder(this.weights, features));
  }

  /**
   * The step-independent half of the attention score, once per image (pass it to step()):
   * 2·(enc·W1 + b1), [B, L, E] → [B, L, A]. Scores are computed as 2V·σ(2u), equal to V·tanh(u) up
   * to a per-row constant that the softmax cancels (fused-wasm.ts).
   */
  attentionKeys(encoded: tf.Tensor3D): tf.Tensor3D {
    return sigmoidAttentionKeys(encoded, this.derived.get(this.weights));
  }

  /** GRU state before the first word. */
  initialHidden(batch: number): tf.Tensor2D {
    return tf.zeros([batch, this.config.units]);
  }

  /**
   * `decoderStep`, fast: the attention keys come precomputed per image (`keys`, from attentionKeys;
   * computed here when omitted), and one matMul gives both the GRU's recurrent gates and the
   * attention query.
   */
  step(encoded: tf.Tensor3D, prevTokens: tf.Tensor1D, hidden: tf.Tensor2D, keys?: tf.Tensor3D): StepResult {
    const { units: U, attentionUnits: A } = this.config;
    return tf.tidy(() => {
      const w = this.weights;
      const d = this.derived.get(w);
      const hq = dense(hidden, d.recurrent, d.recurrentBias); // [B, 3U + A] = [h·Wh + bh | 2·(h·W2 + b2)]
      const [hg, query] = tf.split(hq, [3 * U, A], 1) as [tf.Tensor2D, tf.Tensor2D]; // [B, 3U], [B, A]
      const attn = sigmoidAttention(keys ?? this.attentionKeys(encoded), encoded, query, d.v2); // context [B, E], weights [B, L]
      const embedded = tf.gather(w['embedding/embeddings'], prevTokens.toInt()) as tf.Tensor2D; // [B, E]
      const xg = dense(tf.concat([attn.context, embedded], 1), w['gru/kernel'], d.inputBias); // [B, 3U]
      const h = gruCell(xg, hg, hidden); // [B, U]
      return { logits: outputLayers(w, h), hidden: h, attention: attn.weights }; // logits [B, V]
    });
  }

  // ---------------------------------------------------------------- training

  /**
   * `captionLoss` of the model's weights, computed by the fast path. Differentiable: under tf.grad /
   * variableGrads / optimizer.minimize the gradient comes from the hand-derived backward pass.
   */
  loss(features: tf.Tensor3D, tokens: tf.Tensor2D, opts: LossOptions = {}): tf.Scalar {
    this.checkBatch(features, tokens, opts);
    const recording = (tf.engine().state as unknown as { gradientDepth: number }).gradientDepth > 0;
    if (!recording) return tf.tidy(() => this.fused(features, tokens, opts, false).loss);
    const withGradients = tf.customGrad(((...args: unknown[]) => {
      const save = args[args.length - 1] as tf.GradSaveFunc;
      const result = this.fused(features, tokens, opts, true);
      save(this.parameterNames.map((n) => result.grads![n]));
      return {
        value: result.loss,
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => saved.map((g) => g.mul(dy)),
      };
    }) as Parameters<typeof tf.customGrad>[0]);
    return withGradients(...this.variables) as tf.Scalar;
  }

  /** Loss and its gradient for every variable, by the hand-derived backward pass (no autodiff). */
  lossAndGradients(features: tf.Tensor3D, tokens: tf.Tensor2D, opts: LossOptions = {}): LossAndGradients {
    this.checkBatch(features, tokens, opts);
    let count = 0;
    const [loss, ...grads] = tf.tidy(() => {
      const r = this.fused(features, tokens, opts, true);
      count = r.tokens;
      return [r.loss, ...this.parameterNames.map((n) => r.grads![n])];
    });
    return { loss: loss as tf.Scalar, grads, tokens: count };
  }

  private fused(features: tf.Tensor3D, tokens: tf.Tensor2D, opts: LossOptions, withGradients: boolean) {
    return forwardBackward(this.weights, this.derived.get(this.weights), features, tokens, opts, withGradients);
  }

  private checkFeatures(features: tf.Tensor): void {
    const { locations, featureDim } = this.config;
    if (features.rank !== 3 || features.shape[1] !== locations || features.shape[2] !== featureDim) {
      throw new CaptionerError(`features must be [B, ${locations}, ${featureDim}], got [${features.shape}]`);
    }
  }

  private checkBatch(features: tf.Tensor3D, tokens: tf.Tensor2D, opts: LossOptions): void {
    this.checkFeatures(features);
    if (tokens.rank !== 2 || tokens.shape[0] !== features.shape[0]) {
      throw new CaptionerError(`loss: tokens must be [B, T] with B = ${features.shape[0]}, got [${tokens.shape}]`);
    }
    if (tokens.shape[1] < 2) throw new CaptionerError(`loss: captions need at least 2 tokens, got ${tokens.shape[1]}`);
    const [B, T1, U] = [tokens.shape[0], tokens.shape[1] - 1, this.config.units];
    if (opts.dropoutMask && opts.dropoutMask.length !== B * T1 * U) {
      throw new CaptionerError(`loss: dropoutMask must hold [B, T−1, U] = [${B}, ${T1}, ${U}] values, got ${opts.dropoutMask.length}`);
    }
  }

  // ---------------------------------------------------------------- files and engines (Node)

  /** Saves to `dir` atomically in TF.js format (io.ts; the file layout is in artifacts.ts). */
  async save(dir: string, extras: SaveExtras): Promise<void> {
    await nodeServices('save').save(dir, this, extras);
  }

  /**
   * Loads a folder written by save(); missing files or mismatched shapes raise a CaptionerError
   * naming the file. `engine` picks where decoding runs: 'auto' (default) attaches the native
   * onnxruntime engine (`stepEngine`) when onnxruntime-node loads and the TF.js backend is not
   * tfjs-node; 'tfjs' never does; 'onnx' requires it.
   */
  static async load(dir: string, opts: { engine?: EngineChoice } = {}): Promise<LoadedCaptionModel> {
    const model = await nodeServices('load').load(dir);
    await model.useEngine(opts.engine ?? 'auto');
    return model;
  }

  /**
   * Picks where decoding runs (Node): 'auto' attaches the native onnxruntime engine when
   * onnxruntime-node loads and the TF.js backend is not tfjs-node, 'onnx' requires it, 'tfjs'
   * detaches it. Returns the engine in use.
   */
  async useEngine(engine: EngineChoice): Promise<'onnx' | 'tfjs'> {
    return nodeServices('useEngine').useEngine(this, engine);
  }

  dispose(): void {
    (this.stepEngine as { release?: () => void } | null)?.release?.();
    this.stepEngine = null;
    this.derived.dispose();
    tf.dispose(this.variables);
  }
}

/** `captionLoss` of a model's current weights: the autodiff oracle of the tests, the bench's --baseline. */
export function referenceLoss(model: CaptionModel, features: tf.Tensor3D, tokens: tf.Tensor2D, opts: LossOptions = {}): tf.Scalar {
  return captionLoss(model.namedWeights(), features, tokens, opts);
}

/**
 * Saving, loading and the native decoding engine are Node-only files (io.ts, node.ts, native/) that
 * depend on this one; the Node entry (index.ts) plugs them in here, so this file, and browser
 * bundles of it, import neither node:fs nor onnxruntime-node.
 */
export interface NodeServices {
  save(dir: string, model: CaptionModel, extras: SaveExtras): Promise<void>;
  load(dir: string): Promise<LoadedCaptionModel>;
  useEngine(model: CaptionModel, engine: EngineChoice): Promise<'onnx' | 'tfjs'>;
}

let services: NodeServices | null = null;

export function registerNodeServices(s: NodeServices | null): void {
  services = s;
}

function nodeServices(method: string): NodeServices {
  if (!services) {
    throw new CaptionerError(`CaptionModel.${method} needs the Node entry of @captioner/model (files, onnxruntime-node); in a browser, build the model with modelFromArtifacts`);
  }
  return services;
}
