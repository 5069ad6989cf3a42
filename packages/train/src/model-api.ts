import type { EngineName } from '@captioner/core';
import { tf } from '@captioner/tf';
import type { CaptionModel, CaptionModelConfig, NativeStepEngine, NativeTrainer } from '@captioner/model';
import type { FeatureStoreLike } from './dataset.js';

/** The model training creates, steps, checkpoints (model.save) and exports. */
export type TrainableModel = CaptionModel;

export interface StepResult {
  /** Mean cross-entropy per predicted (non-pad) token of the batch. */
  loss: number;
  /** Predicted (non-pad) tokens in the batch. */
  tokens: number;
  /** Global gradient norm before clipping. */
  gradNorm: number;
}

/** What CaptionModel.create takes (sizes from the data, dims from the config's `model` section). */
export type ModelShape = CaptionModelConfig;

/**
 * Where the training loop's model calls run: the same CaptionModel on the TF.js backend or on the
 * native onnxruntime engine (`train.engine`), chosen once by defaultModelApi; tests wrap single
 * calls (scripted validation losses, NaN features).
 */
export interface ModelApi {
  create(config: ModelShape, seed: number): TrainableModel;
  load(dir: string): Promise<TrainableModel>;
  /** Mean loss per predicted token, without gradients (validation). */
  loss(model: TrainableModel, features: tf.Tensor3D, tokens: tf.Tensor2D): tf.Scalar;
  trainStep(
    model: TrainableModel,
    optimizer: tf.Optimizer,
    features: tf.Tensor3D,
    tokens: tf.Tensor2D,
    /** dropoutSeed: this step's mask seed (see `dropoutSeed` in @captioner/model). */
    opts: { clipNorm: number; attentionPenalty: number; microBatch: number; dropout: number; dropoutSeed: number },
  ): Promise<StepResult>;
  /** Greedy captions (words, and whether <eos> was reached) for a batch of images, without dropout. */
  greedyCaptions(
    model: TrainableModel,
    features: tf.Tensor3D,
    opts: { startId: number; endId: number; maxLength: number; words: readonly string[] },
  ): { words: string[]; finished: boolean }[];
  dispose(model: TrainableModel): void;
  /**
   * Brings the model's weights and the optimizer's state up to date for a checkpoint (the native
   * engine keeps them in its own arrays between steps). Absent = always up to date.
   */
  sync?(model: TrainableModel, optimizer: tf.Optimizer): Promise<void>;
  /** Releases what trainStep started (native sessions). */
  close?(): Promise<void>;
  /** The engine the training steps run on ('tfjs' or 'onnx'), for the log. */
  readonly engine?: string;
  openFeatureStore(dir: string, memoryBudgetMiB: number): FeatureStoreLike;
}

export interface DefaultModelApiOptions {
  /** Where training steps, validation loss and validation decoding run (see `train.engine`); default 'auto'. */
  engine?: EngineName;
  /** TF.js backend name ('tensorflow' keeps `auto` on TF.js). */
  backendName?: string;
}

/** `@captioner/model` + `@captioner/featurize` (imported on first use: they pull in TF.js model code). */
export async function defaultModelApi(opts: DefaultModelApiOptions = {}): Promise<ModelApi> {
  const model = await import('@captioner/model');
  const { CaptionModel: Model, greedyDecode, trainStep } = model;
  const { openFeatureStore } = await import('@captioner/featurize');
  const common = {
    create: (config: ModelShape, seed: number) => Model.create(config, seed),
    load: (dir: string) => Model.load(dir, { engine: 'tfjs' }),
    openFeatureStore: (dir: string, memoryBudgetMiB: number): FeatureStoreLike => openFeatureStore(dir, { memoryBudgetMiB }),
  };
  const engine = await model.resolveTrainEngine(opts.engine ?? 'auto', opts.backendName);
  if (engine === 'tfjs') {
    return {
      ...common,
      engine,
      loss: (m, features, tokens) => m.loss(features, tokens),
      greedyCaptions: (m, features, decodeOpts) => greedyDecode(m, features, { ...decodeOpts, engine: model.tfjsStepEngine(m) }),
      trainStep: async (m, optimizer, features, tokens, stepOpts) => trainStep(m, optimizer, features, tokens, stepOpts),
      dispose: (m) => m.dispose(),
    };
  }
  // onnx: one native trainer (weights + Adam state in JS arrays) and decode engine per model.
  const runtime = await model.loadNative();
  const native = new Map<CaptionModel, { trainer: NativeTrainer; decoder: NativeStepEngine | null }>();
  const nativeFor = (m: CaptionModel) => {
    let n = native.get(m);
    if (!n) native.set(m, (n = { trainer: model.NativeTrainer.withRuntime(m, runtime), decoder: null }));
    return n;
  };
  const release = (m: CaptionModel) => {
    const n = native.get(m);
    n?.trainer.dispose();
    n?.decoder?.release();
    native.delete(m);
  };
  return {
    ...common,
    engine,
    loss: (m, features, tokens) => tf.scalar(nativeFor(m).trainer.loss(features, tokens)),
    greedyCaptions: (m, features, decodeOpts) => {
      const n = nativeFor(m);
      n.trainer.syncModel();
      n.decoder ??= model.createNativeStepEngine(runtime, m);
      return greedyDecode(m, features, { ...decodeOpts, engine: n.decoder });
    },
    trainStep: async (m, optimizer, features, tokens, stepOpts) => nativeFor(m).trainer.trainStep(optimizer, features, tokens, stepOpts),
    sync: async (m, optimizer) => nativeFor(m).trainer.syncOptimizer(optimizer),
    dispose: (m) => {
      release(m);
      m.dispose();
    },
    close: async () => {
      for (const m of [...native.keys()]) release(m);
    },
  };
}
