import { tf } from '@captioner/tf';
import type { CaptionModel, CaptionModelConfig, NativeStepEngine, NativeTrainer } from '@captioner/model';
import type { FeatureStoreLike } from './dataset.js';

/** The model as training sees it: weights that can be saved with metadata. */
export interface TrainableModel {
  save(dir: string, meta: { vocab: unknown; features: unknown; training: unknown }): Promise<unknown>;
}

export interface StepResult {
  /** Mean cross-entropy per predicted (non-pad) token of the batch. */
  loss: number;
  /** Predicted (non-pad) tokens in the batch. */
  tokens: number;
  /** Global gradient norm before clipping. */
  gradNorm: number;
}

/**
 * The seam between the training loop and `@captioner/model` / `@captioner/featurize`, so the loop
 * depends on a handful of calls (and tests can count or wrap them).
 */
/** What CaptionModel.create takes (sizes from the data, dims from the config's `model` section). */
export type ModelShape = CaptionModelConfig;

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
  engine?: 'auto' | 'onnx' | 'tfjs';
  /** TF.js backend name ('tensorflow' keeps `auto` on TF.js). */
  backendName?: string;
}

/** `@captioner/model` + `@captioner/featurize` (imported on first use: they pull in TF.js model code). */
export async function defaultModelApi(opts: DefaultModelApiOptions = {}): Promise<ModelApi> {
  const model = await import('@captioner/model');
  const { CaptionModel: Model, greedyDecode, trainStep } = model;
  const { openFeatureStore } = await import('@captioner/featurize');
  const common = {
    create: (config: ModelShape, seed: number) => Model.create(config, seed) as unknown as TrainableModel,
    load: async (dir: string) => (await Model.load(dir, { engine: 'tfjs' })) as unknown as TrainableModel,
    openFeatureStore: (dir: string, memoryBudgetMiB: number) => openFeatureStore(dir, { memoryBudgetMiB }) as unknown as FeatureStoreLike,
  };
  const engine = await model.resolveTrainEngine(opts.engine ?? 'auto', opts.backendName);
  if (engine === 'tfjs') {
    return {
      ...common,
      engine,
      loss: (m, features, tokens) => (m as CaptionModel).loss(features, tokens),
      greedyCaptions: (m, features, decodeOpts) => greedyDecode(m as CaptionModel, features, { ...decodeOpts, engine: model.tfjsStepEngine(m as CaptionModel) }),
      trainStep: async (m, optimizer, features, tokens, stepOpts) => trainStep(m as CaptionModel, optimizer, features, tokens, stepOpts),
      dispose: (m) => (m as CaptionModel).dispose(),
    };
  }
  // onnx: one native trainer (weights + Adam state in JS arrays) and decode engine per model.
  const runtime = await model.loadNative();
  const native = new Map<CaptionModel, { trainer: NativeTrainer; decoder: NativeStepEngine | null }>();
  const nativeFor = (m: TrainableModel) => {
    const key = m as CaptionModel;
    let n = native.get(key);
    if (!n) native.set(key, (n = { trainer: model.NativeTrainer.withRuntime(key, runtime), decoder: null }));
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
      n.decoder ??= model.createNativeStepEngine(runtime, m as CaptionModel);
      return greedyDecode(m as CaptionModel, features, { ...decodeOpts, engine: n.decoder });
    },
    trainStep: async (m, optimizer, features, tokens, stepOpts) => nativeFor(m).trainer.trainStep(optimizer, features, tokens, stepOpts),
    sync: async (m, optimizer) => nativeFor(m).trainer.syncOptimizer(optimizer),
    dispose: (m) => {
      release(m as CaptionModel);
      (m as CaptionModel).dispose();
    },
    close: async () => {
      for (const m of [...native.keys()]) release(m);
    },
  };
}
