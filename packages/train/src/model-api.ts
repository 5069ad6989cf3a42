import { tf } from '@captioner/tf';
import { CaptionerError } from '@captioner/core';
import type { CaptionModel, CaptionModelConfig, DataParallelTrainer } from '@captioner/model';
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
  /** Releases what trainStep started (data-parallel worker threads). */
  close?(): Promise<void>;
  openFeatureStore(dir: string, memoryBudgetMiB: number): FeatureStoreLike;
}

export interface DefaultModelApiOptions {
  /** Data-parallel replicas including this thread (1 = plain trainStep); see DataParallelTrainer. */
  replicas?: number;
  /** wasm threads of each worker replica. */
  threadsPerReplica?: number;
}

/** `@captioner/model` + `@captioner/featurize` (imported on first use: they pull in TF.js model code). */
export async function defaultModelApi(opts: DefaultModelApiOptions = {}): Promise<ModelApi> {
  const { CaptionModel: Model, DataParallelTrainer, greedyDecode, trainStep } = await import('@captioner/model');
  const { openFeatureStore } = await import('@captioner/featurize');
  const replicas = opts.replicas ?? 1;
  let trainer: Promise<DataParallelTrainer> | undefined;
  return {
    create: (config, seed) => Model.create(config, seed) as unknown as TrainableModel,
    load: async (dir) => (await Model.load(dir)) as unknown as TrainableModel,
    loss: (model, features, tokens) => (model as CaptionModel).loss(features, tokens),
    greedyCaptions: (model, features, decodeOpts) => greedyDecode(model as CaptionModel, features, decodeOpts),
    trainStep: async (model, optimizer, features, tokens, stepOpts) => {
      if (replicas <= 1) return trainStep(model as CaptionModel, optimizer, features, tokens, stepOpts);
      if (stepOpts.dropout > 0) throw new CaptionerError('train.dropout needs train.replicas 1 (the data-parallel path has no dropout)');
      const backend = tf.getBackend() === 'cpu' ? 'cpu' : 'wasm';
      trainer ??= DataParallelTrainer.start((model as CaptionModel).config, { replicas, backend, threadsPerReplica: opts.threadsPerReplica ?? 1 });
      return (await trainer).trainStep(model as CaptionModel, optimizer, features, tokens, stepOpts);
    },
    close: async () => {
      const t = trainer;
      trainer = undefined;
      if (t) await (await t).dispose();
    },
    dispose: (model) => (model as CaptionModel).dispose(),
    openFeatureStore: (dir, memoryBudgetMiB) => openFeatureStore(dir, { memoryBudgetMiB }) as unknown as FeatureStoreLike,
  };
}
