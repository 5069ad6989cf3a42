/**
 * The training step on onnxruntime-node: the loss-and-gradient graph of train-graph.ts (one session
 * for every batch shape), global-norm clipping and Adam in JS over Float32Arrays. Between steps
 * the weights and Adam moments live here; `syncModel()` / `syncOptimizer()` copy them into the
 * CaptionModel's variables and the TF.js optimizer (before validation, decoding, checkpoints), and
 * a step re-reads them when something else changed the variables (a loaded checkpoint).
 */
import { tf } from '@captioner/tf';
import { CaptionerError } from '@captioner/core';
import { checkTokenRange, layoutBatch, validRowMask, type CaptionModel, type LossOptions } from '../model.js';
import { batchDropoutMask, type TrainStepOptions, type TrainStepResult } from '../train-step.js';
import { JsAdam } from './adam.js';
import { ADAM_INPUTS, buildTrainGraph, GRAD_PREFIX, GRAD_SQUARES } from './train-graph.js';
import { floatTensor, int64Tensor, loadNative, type NativeOptions, type NativeRuntime, type Ort, type OrtTensor, type SyncSession } from './runtime.js';

export interface NativeLossResult {
  loss: number;
  /** Non-pad targets. */
  tokens: number;
  /** d loss / d parameter in `model.parameterNames` order (absent without gradients). */
  grads?: Float32Array[];
  /** Σ of the squared gradient entries (with gradients). */
  gradSquares?: number;
}

export class NativeTrainer {
  readonly model: CaptionModel;
  private readonly ort: Ort;
  private readonly runtime: NativeRuntime;
  private readonly options: NativeOptions;
  private trainSession: SyncSession | null = null;
  private lossSession: SyncSession | null = null;
  private stepSession: SyncSession | null = null;
  /** The second set of weight/moment buffers the step graph writes into (swapped every step). */
  private spare: { weights: Float32Array[]; m: Float32Array[]; v: Float32Array[] } | null = null;
  /** Master copy of the weights while training natively. */
  private weights: Float32Array[];
  /** dataIds of the variables when `weights` was last read from / written to them. */
  private variableIds: object[];
  /** Whether `weights` is ahead of the model's variables. */
  private dirty = false;
  private adam: { optimizer: tf.Optimizer; state: JsAdam; dirty: boolean } | null = null;

  private constructor(model: CaptionModel, runtime: NativeRuntime, options: NativeOptions) {
    this.model = model;
    this.runtime = runtime;
    this.ort = runtime.ort;
    this.options = options;
    this.weights = model.variables.map((v) => (v.dataSync() as Float32Array).slice());
    this.variableIds = model.variables.map((v) => v.dataId);
  }

  static async create(model: CaptionModel, options: NativeOptions = {}): Promise<NativeTrainer> {
    return new NativeTrainer(model, await loadNative(), options);
  }

  /** create() with an already loaded runtime (synchronous). */
  static withRuntime(model: CaptionModel, runtime: NativeRuntime, options: NativeOptions = {}): NativeTrainer {
    return new NativeTrainer(model, runtime, options);
  }

  /** The session of the training graph (built on first use: a few hundred ms). */
  private session(kind: 'loss' | 'gradients' | 'step'): SyncSession {
    const build = () => this.runtime.createSession(buildTrainGraph(this.model.config, { withGradients: kind !== 'loss', adam: kind === 'step' }), this.options);
    if (kind === 'step') return (this.stepSession ??= build());
    if (kind === 'gradients') return (this.trainSession ??= build());
    return (this.lossSession ??= build());
  }

  /** Re-reads the weights if the variables were changed outside this trainer. */
  private refreshWeights(): void {
    const vars = this.model.variables;
    if (vars.every((v, i) => v.dataId === this.variableIds[i])) return;
    if (this.dirty) throw new CaptionerError('native trainer: the model variables changed while native weights were unsynced');
    this.weights = vars.map((v) => (v.dataSync() as Float32Array).slice());
    this.variableIds = vars.map((v) => v.dataId);
  }

  /** Loss (and gradients) of a batch; `features` [B, L, D] and `tokens` [B, T] as flat arrays. */
  lossAndGradients(features: Float32Array, tokens: Int32Array, shape: { batch: number; length: number }, opts: LossOptions & { withGradients: boolean }): NativeLossResult {
    const batch = this.batchFeeds(features, tokens, shape, opts);
    if (!batch) return { loss: 0, tokens: 0, grads: opts.withGradients ? this.weights.map((w) => new Float32Array(w.length)) : undefined };
    const out = this.timed(() => this.session(opts.withGradients ? 'gradients' : 'loss').run(batch.feeds));
    const loss = (out.loss.data as Float32Array)[0];
    if (!opts.withGradients) return { loss, tokens: batch.tokens };
    const grads = this.model.parameterNames.map((n) => out[`${GRAD_PREFIX}${n}`].data as Float32Array);
    return { loss, tokens: batch.tokens, grads, gradSquares: (out[GRAD_SQUARES].data as Float32Array)[0] };
  }

  private timed<T>(fn: () => T): T {
    const t0 = performance.now();
    const r = fn();
    this.timings.runMs = performance.now() - t0;
    return r;
  }

  /** The graph inputs of a batch with the current weights, or null when it has no target. */
  private batchFeeds(
    features: Float32Array,
    tokens: Int32Array,
    shape: { batch: number; length: number },
    opts: LossOptions,
  ): { feeds: Record<string, OrtTensor>; tokens: number } | null {
    this.refreshWeights();
    const { vocabSize: V, locations: L, featureDim: D, units: U } = this.model.config;
    const { batch: B, length: T } = shape;
    if (features.length !== B * L * D) throw new CaptionerError(`features must be [B, ${L}, ${D}] with B = ${B}, got ${features.length} values`);
    if (tokens.length !== B * T || T < 2) throw new CaptionerError(`loss: tokens must be [${B}, T ≥ 2], got ${tokens.length} values for T = ${T}`);
    const layout = layoutBatch(tokens, B, T);
    checkTokenRange(layout.inputIds, V);
    checkTokenRange(layout.targets, V);
    const N = layout.validRows.length;
    if (N === 0) return null;
    if (opts.dropoutMask && opts.dropoutMask.length !== B * (T - 1) * U) {
      throw new CaptionerError(`loss: dropoutMask must hold [B, T−1, U] = [${B}, ${T - 1}, ${U}] values, got ${opts.dropoutMask.length}`);
    }
    const S = layout.steps;
    const ort = this.ort;
    const names = this.model.parameterNames;
    const feeds: Record<string, OrtTensor> = {};
    names.forEach((name, i) => (feeds[name] = floatTensor(ort, this.weights[i], this.model.variables[i].shape)));
    const stepMask = layout.mask;
    feeds.features = floatTensor(ort, features, [B, L, D]);
    feeds.input_ids = int64Tensor(ort, layout.inputIds, [S * B]);
    feeds.valid_rows = int64Tensor(ort, layout.validRows, [N]);
    feeds.targets = int64Tensor(ort, layout.targets, [N, 1]);
    feeds.step_mask = floatTensor(ort, stepMask, [S, B, 1]);
    feeds.has_target = floatTensor(ort, layout.hasTarget, [B, 1]);
    feeds.drop_mask = floatTensor(ort, opts.dropoutMask ? validRowMask(opts.dropoutMask, layout.validRows, B, T - 1, U) : new Float32Array(N * U).fill(1), [N, U]);
    feeds.inv_n = floatTensor(ort, Float32Array.of(1 / N), []);
    feeds.penalty = floatTensor(ort, Float32Array.of(opts.attentionPenalty ?? 0), []);
    return { feeds, tokens: N };
  }

  /**
   * One optimizer step, as `trainStep` does it on TF.js: loss and gradient of the whole batch
   * (micro-batching is a wasm memory bound and not needed here), global-norm clipping and Adam, all
   * in one onnxruntime run that writes the new weights and moments into the spare buffers.
   */
  trainStep(optimizer: tf.Optimizer, features: tf.Tensor3D, tokens: tf.Tensor2D, opts: Omit<TrainStepOptions, 'microBatch'> = {}): TrainStepResult {
    const [B, T] = tokens.shape;
    const batch = this.batchFeeds(
      features.dataSync() as Float32Array,
      tokens.dataSync() as Int32Array,
      { batch: B, length: T },
      {
        attentionPenalty: opts.attentionPenalty ?? 0,
        dropoutMask: batchDropoutMask(this.model, tokens, opts),
      },
    );
    if (!batch) return { loss: 0, tokens: 0, gradNorm: 0 };
    if (!this.adam || this.adam.optimizer !== optimizer) {
      this.adam = {
        optimizer,
        state: JsAdam.fromOptimizer(
          optimizer,
          this.weights.map((w) => w.length),
        ),
        dirty: false,
      };
    }
    const adam = this.adam.state;
    const ort = this.ort;
    const shapes = this.model.variables.map((v) => v.shape);
    const names = this.model.parameterNames;
    const feeds = batch.feeds;
    ADAM_INPUTS.forEach((name, i) => (feeds[name] = floatTensor(ort, Float32Array.of(adam.scalars(optimizer, opts.clipNorm ?? 0)[i]), [])));
    this.spare ??= {
      weights: this.weights.map((w) => new Float32Array(w.length)),
      m: adam.m.map((m) => new Float32Array(m.length)),
      v: adam.v.map((v) => new Float32Array(v.length)),
    };
    const next = this.spare;
    const fetches: Record<string, OrtTensor | null> = { loss: null, [GRAD_SQUARES]: null };
    names.forEach((name, i) => {
      feeds[`m:${name}`] = floatTensor(ort, adam.m[i], shapes[i]);
      feeds[`v:${name}`] = floatTensor(ort, adam.v[i], shapes[i]);
      fetches[`new:${name}`] = floatTensor(ort, next.weights[i], shapes[i]);
      fetches[`new_m:${name}`] = floatTensor(ort, next.m[i], shapes[i]);
      fetches[`new_v:${name}`] = floatTensor(ort, next.v[i], shapes[i]);
    });
    const out = this.timed(() => this.session('step').runWith(feeds, fetches));
    // The written buffers become current; the old ones are next step's spare.
    this.spare = { weights: this.weights, m: adam.m, v: adam.v };
    this.weights = next.weights;
    adam.m = next.m;
    adam.v = next.v;
    adam.advance(optimizer);
    this.adam.dirty = true;
    this.dirty = true;
    return { loss: (out.loss.data as Float32Array)[0], tokens: batch.tokens, gradNorm: Math.sqrt((out[GRAD_SQUARES].data as Float32Array)[0]) };
  }

  /** Wall ms of the last onnxruntime run (benchmarks). */
  readonly timings = { runMs: 0 };

  /** Mean loss per target without gradients or dropout (validation). */
  loss(features: tf.Tensor3D, tokens: tf.Tensor2D, opts: { attentionPenalty?: number } = {}): number {
    const [B, T] = tokens.shape;
    const r = this.lossAndGradients(
      features.dataSync() as Float32Array,
      tokens.dataSync() as Int32Array,
      { batch: B, length: T },
      {
        attentionPenalty: opts.attentionPenalty ?? 0,
        withGradients: false,
      },
    );
    return r.loss;
  }

  /** Copies the native weights into the model's variables (no-op when they are current). */
  syncModel(): void {
    if (!this.dirty) return;
    this.model.variables.forEach((v, i) => v.assign(tf.tensor(this.weights[i], v.shape)));
    this.variableIds = this.model.variables.map((v) => v.dataId);
    this.dirty = false;
  }

  /** Copies weights and Adam state into the model and the TF.js optimizer (for checkpoints). */
  async syncOptimizer(optimizer: tf.Optimizer): Promise<void> {
    this.syncModel();
    if (!this.adam || this.adam.optimizer !== optimizer || !this.adam.dirty) return;
    await this.adam.state.writeTo(
      optimizer,
      this.model.variables.map((v) => v.name),
      this.model.variables.map((v) => v.shape),
    );
    this.adam.dirty = false;
  }

  /** Ends onnxruntime profiling of the training-step session (NativeOptions.profilePrefix). */
  endProfiling(): void {
    this.stepSession?.endProfiling();
  }

  /** Forgets the cached Adam state (the optimizer's own state was replaced, e.g. by loadOptimizer). */
  resetOptimizer(): void {
    this.adam = null;
  }

  dispose(): void {
    for (const s of [this.trainSession, this.lossSession, this.stepSession]) s?.release();
    this.trainSession = this.lossSession = this.stepSession = null;
  }
}
