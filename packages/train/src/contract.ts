/**
 * train's file contracts, browser-safe (zod only): metrics.jsonl (one row per epoch, read by viz)
 * and a checkpoint's state.json and optimizer.json (read back by `--resume`). The exported model
 * folder's files are the model package's contract.
 */
import * as z from 'zod';

/** One epoch's row of metrics.jsonl (and of the checkpoint's history). */
export const epochMetricsSchema = z.object({
  epoch: z.number().int().min(0),
  /** Token-weighted mean cross-entropy over the epoch's training batches. */
  trainLoss: z.number(),
  /** Token-weighted mean cross-entropy over the validation split (null when it is empty). */
  valLoss: z.number().nullable(),
  tokensPerSec: z.number(),
  epochSeconds: z.number(),
  lr: z.number(),
  steps: z.number().int(),
  tokens: z.number().int(),
  /** Gradient global norm (before clipping), averaged over the epoch. */
  gradNorm: z.number(),
  /** `selectBy: valCIDEr` only: greedy validation captions' CIDEr-D and BLEU-4 (0–1), mean words, share capped. */
  valCider: z.number().nullable().optional(),
  valBleu4: z.number().nullable().optional(),
  valMeanWords: z.number().nullable().optional(),
  valCapped: z.number().nullable().optional(),
});
export type EpochMetrics = z.infer<typeof epochMetricsSchema>;

export const METRICS_FILE = 'metrics.jsonl';

/** Everything besides weights that `--resume` needs to continue exactly where a run stopped (state.json). */
export const trainStateSchema = z.object({
  version: z.literal(1),
  /** Epoch in progress or just finished (1-based). */
  epoch: z.number().int(),
  /** Batches of `epoch` already trained. */
  batchesDone: z.number().int(),
  /** Batches `epoch` has in total (a finished epoch has batchesDone === epochBatches). */
  epochBatches: z.number().int(),
  globalStep: z.number().int(),
  seed: z.number().int(),
  /** Fingerprint of the data order inputs (batches.orderFingerprint). */
  orderFingerprint: z.string(),
  /** Accumulators of the epoch in progress, so a mid-epoch resume reports the same epoch loss. */
  partial: z.object({ lossSum: z.number(), tokens: z.number(), gradNormSum: z.number(), trainSeconds: z.number(), wallSeconds: z.number() }),
  history: z.array(epochMetricsSchema),
  /**
   * The selected epoch. `valLoss` is its validation loss (the criterion when selectBy is valLoss);
   * `score` is its selectBy score (higher is better), absent in checkpoints written before selectBy.
   */
  best: z.object({ epoch: z.number().int(), valLoss: z.number(), by: z.enum(['valLoss', 'valCIDEr']).optional(), score: z.number().optional() }).nullable(),
  epochsWithoutImprovement: z.number().int(),
  savedAt: z.string(),
});
export type TrainState = z.infer<typeof trainStateSchema>;

/** optimizer.json: the optimizer's class, config and where each weight sits in optimizer.bin. */
export const optimizerManifestSchema = z.object({
  className: z.string(),
  config: z.record(z.string(), z.unknown()),
  /**
   * Adam's running beta powers. tfjs' setWeights recomputes them as pow(beta, iterations + 1),
   * which differs in the last float bits from the product accumulated step by step; restoring
   * the saved values keeps a resumed run bit-identical to an uninterrupted one.
   */
  accBeta1: z.number().optional(),
  accBeta2: z.number().optional(),
  weights: z.array(z.object({ name: z.string(), shape: z.array(z.number().int()), dtype: z.enum(['float32', 'int32']), offset: z.number().int(), length: z.number().int() })),
});
export type OptimizerManifest = z.infer<typeof optimizerManifestSchema>;
