import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { currentBackend, tf } from '@captioner/tf';
import { CaptionerError, featureSetOf, type PipelineConfig, type TrainConfig } from '@captioner/core';
import { END_TOKEN, START_TOKEN } from '@captioner/text-clean/contract';
import { log, progress, timer } from '@captioner/core/node';
import { gatherTokens, locateBatch, orderFingerprint, planEvalPass, planTrainEpoch, type EpochPlan, type PlanInput, type TrainOrder } from './batches.js';
import { BEST_DIR, listCheckpoints, loadOptimizer, markBest, MODEL_DIR, rotateCheckpoints, writeCheckpoint, type EpochMetrics, type TrainState } from './checkpoint.js';
import { buildSplit, FeatureCache, planInput, storeIndex, type FeatureStoreLike, type SplitData } from './dataset.js';
import { writeMetricsJsonl } from './metrics.js';
import { TensorBoardWriter } from './tfevents.js';
import { readTokenSplits, readVocab, type Vocab } from './tokens.js';
import { defaultModelApi, type ModelApi, type StepResult, type TrainableModel } from './model-api.js';
import { readReferences } from '@captioner/ingest';
import { describeScore, learningRateForEpoch, scoreValidationCaptions, selectionScore, type CaptionQuality } from './selection.js';

const STAGE = 'train';

/** Scalar tags written to TensorBoard (per epoch unless noted). */
export const TAGS = {
  trainLoss: 'training loss',
  epochTime: 'Epoch time (s)',
  valLoss: 'validation loss',
  valCider: 'validation CIDEr-D (greedy)',
  valBleu4: 'validation BLEU-4 (greedy)',
  tokensPerSec: 'tokens/s',
  learningRate: 'learning rate',
  /** Per optimizer step (x axis = global step). */
  batchLoss: 'batch loss',
} as const;

export interface StepInfo {
  epoch: number;
  /** 1-based batch number within the epoch. */
  batch: number;
  batches: number;
  globalStep: number;
  loss: number;
  tokens: number;
  gradNorm: number;
  /** tf.memory().numTensors after the step (should stay flat). */
  numTensors: number;
}

export interface RunTrainOptions {
  config: PipelineConfig;
  /** Folder with tokens.arrow + vocab.json. */
  tokenizeDir: string;
  /** Folder with the feature shards + manifest.json. */
  featurizeDir: string;
  /** Folder with ingest's captions.arrow: the raw validation references (needed for selectBy valCIDEr). */
  ingestDir?: string;
  /** Stage output folder (data/stages/train). */
  outDir: string;
  /** Continue from the newest checkpoint in <outDir>/checkpoints. */
  resume?: boolean;
  /** Stop request (SIGINT/SIGTERM): the current step finishes, a checkpoint is written, runTrain returns 'interrupted'. */
  signal?: AbortSignal;
  /** Force plain progress lines. */
  plainProgress?: boolean;
  /** Called after every optimizer step. */
  onStep?: (info: StepInfo) => void;
}

/** What runTrainWith can be given instead of the defaults (tests: a wrapped model API, an in-memory store). */
export interface TrainDependencies {
  /** Model implementation (default: @captioner/model on `train.engine`). */
  modelApi?: ModelApi;
  /** An already opened feature store (default: openFeatureStore(featurizeDir)). */
  store?: FeatureStoreLike;
}

export interface TrainResult {
  status: 'completed' | 'early-stopped' | 'interrupted' | 'already-complete';
  history: EpochMetrics[];
  best: TrainState['best'];
  /** The exported model folder (not written when interrupted). */
  modelDir: string | null;
  /** The newest checkpoint. */
  checkpoint: string | null;
  globalStep: number;
}

export function trainPaths(outDir: string) {
  return {
    checkpoints: join(outDir, 'checkpoints'),
    logs: join(outDir, 'logs'),
    metrics: join(outDir, 'metrics.jsonl'),
    model: join(outDir, 'model'),
  };
}

/** Images of the validation split to use: maxValImages, else the same fraction of val as maxImages is of train. */
export function valImageLimit(config: PipelineConfig['train'], trainAvailable: number, valAvailable: number): number | null {
  if (config.maxValImages != null) return config.maxValImages;
  if (config.maxImages == null || trainAvailable === 0) return null;
  return Math.max(1, Math.ceil((valAvailable * Math.min(config.maxImages, trainAvailable)) / trainAvailable));
}

function freshState(seed: number, fingerprint: string): TrainState {
  return {
    version: 1,
    epoch: 0,
    batchesDone: 0,
    epochBatches: 0,
    globalStep: 0,
    seed,
    orderFingerprint: fingerprint,
    partial: { lossSum: 0, tokens: 0, gradNormSum: 0, trainSeconds: 0, wallSeconds: 0 },
    history: [],
    best: null,
    epochsWithoutImprovement: 0,
    savedAt: new Date().toISOString(),
  };
}

/** Predicted tokens of a batch: every caption token after <sos>. */
function targetTokens(rows: Int32Array, lengths: Int32Array): number {
  let n = 0;
  for (const r of rows) n += lengths[r] - 1;
  return n;
}

function tensorsFor(
  data: SplitData,
  cache: FeatureCache,
  rows: Int32Array,
  locations: number,
  dim: number,
): { features: Float32Array; tokens: Int32Array; shapeF: [number, number, number]; shapeT: [number, number] } {
  const features = cache.gather(Array.from(rows, (r) => data.images[data.rowImage[r]]));
  const { data: tokens, width } = gatherTokens(rows, data.tokens, data.maxLength, data.lengths);
  return { features, tokens, shapeF: [rows.length, locations, dim], shapeT: [rows.length, width] };
}

/** Makes a window's features resident, with a log line when that means reading from the store. */
async function loadWindow(cache: FeatureCache, images: string[], label: string): Promise<void> {
  const clock = timer();
  const loaded = await cache.ensure(images);
  if (loaded > 0) log(STAGE, `${label}: loaded features of ${loaded} images in ${clock().toFixed(1)} s`);
}

/** Token-weighted mean loss over a split (no gradients). */
async function evaluateLoss(model: TrainableModel, api: ModelApi, data: SplitData, plan: EpochPlan, cache: FeatureCache, locations: number, dim: number): Promise<number | null> {
  let lossSum = 0;
  let tokens = 0;
  for (const [w, window] of plan.windows.entries()) {
    await loadWindow(
      cache,
      window.images.map((i) => data.images[i]),
      `${data.split} window ${w + 1}/${plan.windows.length}`,
    );
    for (const rows of window.batches) {
      const t = tensorsFor(data, cache, rows, locations, dim);
      const loss = tf.tidy(() => api.loss(model, tf.tensor3d(t.features, t.shapeF), tf.tensor2d(t.tokens, t.shapeT, 'int32')));
      const value = (await loss.data())[0];
      loss.dispose();
      const n = targetTokens(rows, data.lengths);
      lossSum += value * n;
      tokens += n;
    }
  }
  return tokens > 0 ? lossSum / tokens : null;
}

/** Greedy captions of `images` (resident window by window), scored against the raw references. */
async function validationCaptionQuality(
  model: TrainableModel,
  api: ModelApi,
  images: readonly string[],
  references: ReadonlyMap<string, readonly string[]>,
  cache: FeatureCache,
  imagesPerWindow: number,
  decode: { startId: number; endId: number; maxLength: number; words: readonly string[] },
  shape: { locations: number; dim: number; batch: number },
): Promise<CaptionQuality> {
  const captions = new Map<string, { words: string[]; finished: boolean }>();
  for (let w = 0; w < images.length; w += imagesPerWindow) {
    const window = images.slice(w, w + imagesPerWindow);
    await loadWindow(cache, window, 'val captions');
    for (let b = 0; b < window.length; b += shape.batch) {
      const batch = window.slice(b, b + shape.batch);
      const features = tf.tensor3d(cache.gather(batch), [batch.length, shape.locations, shape.dim]);
      try {
        api.greedyCaptions(model, features, decode).forEach((c, i) => captions.set(batch[i], c));
      } finally {
        features.dispose();
      }
    }
  }
  return scoreValidationCaptions(captions, references);
}

/** selectBy valCIDEr: the validation images captioned each epoch, their raw references, the decoding settings. */
interface CaptionCheck {
  images: string[];
  references: Map<string, string[]>;
  decode: Parameters<ModelApi['greedyCaptions']>[2];
}

/** The data side of a run: the splits joined with the feature store, the feature cache and the data-order inputs. */
interface TrainData {
  vocab: Vocab;
  store: FeatureStoreLike;
  locations: number;
  dim: number;
  train: SplitData;
  val: SplitData;
  captionCheck: CaptionCheck | null;
  cache: FeatureCache;
  imagesPerWindow: number;
  trainInput: PlanInput;
  valPlan: EpochPlan;
  order: TrainOrder;
  /** Fingerprint of the data order (stored in every checkpoint; --resume refuses another one). */
  fingerprint: string;
}

/** One run in progress: what the epoch loop, validation, checkpointing and the export share. */
interface TrainRun {
  opts: RunTrainOptions;
  cfg: TrainConfig;
  api: ModelApi;
  data: TrainData;
  paths: ReturnType<typeof trainPaths>;
  model: TrainableModel;
  optimizer: tf.Optimizer;
  state: TrainState;
  writer: TensorBoardWriter;
  /** The feature set the model is trained on (features.json), not the run's shards and statistics. */
  featureMeta: object;
  latestCheckpoint: string | null;
}

/** The running sums of an epoch (also a checkpoint's `partial`, so a mid-epoch resume reports the same epoch loss). */
type EpochTotals = TrainState['partial'];

const emptyTotals = (): EpochTotals => ({ lossSum: 0, tokens: 0, gradNormSum: 0, trainSeconds: 0, wallSeconds: 0 });

/** selectBy valCIDEr: the validation images to caption each epoch (those with raw references) and the decoding ids. */
export function validationCaptionCheck(cfg: TrainConfig, vocab: Vocab, vocabPath: string, val: SplitData, ingestDir: string | undefined): CaptionCheck | null {
  if (cfg.selectBy !== 'valCIDEr' || val.images.length === 0) return null;
  if (!ingestDir) throw new CaptionerError('train.selectBy valCIDEr needs the ingest stage folder (captions.arrow with the raw references)');
  const references = readReferences(ingestDir, 'val');
  const words: string[] = [];
  for (const [word, id] of Object.entries(vocab.wordIndex)) if (id < vocab.vocabSize) words[id] = word;
  const idOf = (token: string) => {
    const id = vocab.wordIndex[token];
    if (!Number.isInteger(id) || id <= 0 || id >= vocab.vocabSize) throw new CaptionerError(`${vocabPath}: token "${token}" is missing or outside the vocabulary`);
    return id;
  };
  const images = val.images.filter((image) => references.has(image)).slice(0, cfg.selectionImages ?? undefined);
  const check = { images, references, decode: { startId: idOf(START_TOKEN), endId: idOf(END_TOKEN), maxLength: vocab.maxLength - 1, words } };
  log(STAGE, `checkpoint selection: greedy CIDEr-D on ${images.length} validation images each epoch`);
  return check;
}

/**
 * Reads the vocabulary and token splits, joins them with the feature store, and plans the epochs:
 * the memory budget is shared, an eighth for the store's raw shard cache (it keeps at least one
 * shard), the rest for resident float32 features.
 */
async function loadTrainData(opts: RunTrainOptions, api: ModelApi, givenStore: FeatureStoreLike | undefined): Promise<TrainData> {
  const cfg = opts.config.train;
  const vocabPath = join(opts.tokenizeDir, 'vocab.json');
  const vocab = readVocab(vocabPath);
  const tokensPath = join(opts.tokenizeDir, 'tokens.arrow');
  const splits = await readTokenSplits(tokensPath, ['train', 'val'], { vocabSize: vocab.vocabSize });
  const storeBudgetMiB = Math.max(1, Math.floor(cfg.memoryBudgetMB / 8));
  const store = givenStore ?? api.openFeatureStore(opts.featurizeDir, storeBudgetMiB);
  const { locations, dim } = store.manifest;
  const index = storeIndex(store);
  const train = buildSplit(splits.get('train')!, store, index, { maxImages: cfg.maxImages });
  if (train.rowCount === 0) {
    throw new CaptionerError(`${tokensPath}: no train-split rows with features in ${opts.featurizeDir} (run \`captioner featurize\`?)`);
  }
  const valRows = splits.get('val')!;
  const val = buildSplit(valRows, store, index, { maxImages: valImageLimit(cfg, train.available, valRows.images.length) });
  if (val.rowCount === 0) log(STAGE, 'no validation rows: early stopping and best/ use the training loss instead');
  const captionCheck = validationCaptionCheck(cfg, vocab, vocabPath, val, opts.ingestDir);

  const cache = new FeatureCache(store, (cfg.memoryBudgetMB - storeBudgetMiB) * 1024 * 1024);
  const imagesPerWindow = cache.imagesPerWindow(1);
  const trainInput = planInput(train, cfg.batchSize, imagesPerWindow);
  const valPlan = planEvalPass(planInput(val, cfg.batchSize, imagesPerWindow));
  const order: TrainOrder = { seed: cfg.seed, bucketChunk: cfg.bucketChunk };
  const fingerprint = orderFingerprint(trainInput, order, train.images);
  const trainWindows = Math.ceil(train.images.length / imagesPerWindow);
  log(
    STAGE,
    `train ${train.images.length} images / ${train.rowCount} captions, val ${val.images.length} / ${val.rowCount}; ` +
      `features ${locations}x${dim}, ${(cache.bytesPerImage / 2 ** 20).toFixed(2)} MiB/image, ` +
      `${trainWindows === 1 ? 'all train features resident' : `${trainWindows} windows of ≤${imagesPerWindow} images per epoch`} (budget ${cfg.memoryBudgetMB} MiB)`,
  );
  return { vocab, store, locations, dim, train, val, captionCheck, cache, imagesPerWindow, trainInput, valPlan, order, fingerprint };
}

/**
 * The model and state to start from: the newest checkpoint with its optimizer state (--resume,
 * refused when the data order changed), or a fresh model after removing the previous run's outputs.
 */
async function startOrResume(
  opts: RunTrainOptions,
  api: ModelApi,
  data: TrainData,
  paths: ReturnType<typeof trainPaths>,
  optimizer: tf.Optimizer,
): Promise<{ model: TrainableModel; state: TrainState }> {
  const cfg = opts.config.train;
  if (opts.resume) {
    const latest = listCheckpoints(paths.checkpoints).at(-1);
    if (!latest) throw new CaptionerError(`--resume: no checkpoint in ${paths.checkpoints} (run without --resume to start)`);
    if (latest.state.orderFingerprint !== data.fingerprint) {
      throw new CaptionerError(
        `--resume: ${latest.path} was trained on a different data order (inputs, seed, batchSize, bucketChunk, maxImages or ` +
          `memoryBudgetMB changed: fingerprint ${latest.state.orderFingerprint} vs ${data.fingerprint}); start again without --resume`,
      );
    }
    const model = await api.load(join(latest.path, MODEL_DIR));
    await loadOptimizer(optimizer, latest.path);
    const state = latest.state;
    log(STAGE, `resuming from ${latest.name}: epoch ${state.epoch}, ${state.batchesDone}/${state.epochBatches} batches, step ${state.globalStep}`);
    return { model, state };
  }
  for (const p of [paths.checkpoints, paths.logs, paths.metrics, paths.model]) rmSync(p, { recursive: true, force: true });
  const model = api.create(
    {
      vocabSize: data.vocab.vocabSize,
      locations: data.locations,
      featureDim: data.dim,
      embeddingDim: opts.config.model.embeddingDim,
      units: opts.config.model.units,
      attentionUnits: opts.config.model.attentionUnits,
    },
    cfg.seed,
  );
  return { model, state: freshState(cfg.seed, data.fingerprint) };
}

/** What model.save stores beside the weights: vocab.json, features.json and config.json's `training`. */
function saveMeta(run: TrainRun) {
  const { state, cfg, data } = run;
  return {
    vocab: data.vocab,
    features: run.featureMeta,
    training: {
      epoch: state.epoch,
      globalStep: state.globalStep,
      best: state.best,
      train: cfg,
      images: { train: data.train.images.length, val: data.val.images.length },
    },
  };
}

function earlyStopDue(run: TrainRun): boolean {
  return run.cfg.patience > 0 && run.state.epochsWithoutImprovement >= run.cfg.patience;
}

/** Writes a checkpoint of the current state (the native engine first copies its weights and Adam state back), then keeps the newest `keepLast` + best/. */
async function saveCheckpoint(run: TrainRun, opts: { best: boolean }): Promise<void> {
  await run.api.sync?.(run.model, run.optimizer);
  run.latestCheckpoint = await writeCheckpoint(run.paths.checkpoints, run.model, run.optimizer, run.state, saveMeta(run));
  if (opts.best) await markBest(run.paths.checkpoints, run.latestCheckpoint);
  rotateCheckpoints(run.paths.checkpoints, run.cfg.keepLast);
}

/** Ends a run: unless interrupted, exports the best checkpoint (else the newest) to <outDir>/model; releases the model, optimizer and engine. */
async function finishRun(run: TrainRun, status: TrainResult['status']): Promise<TrainResult> {
  const { api, paths, state } = run;
  run.writer.close();
  let modelDir: string | null = null;
  if (status !== 'interrupted') {
    const bestDir = join(paths.checkpoints, BEST_DIR, MODEL_DIR);
    const source = existsSync(bestDir) ? bestDir : run.latestCheckpoint ? join(run.latestCheckpoint, MODEL_DIR) : null;
    if (source) {
      const best = await api.load(source);
      // model.save writes atomically (temp folder + rename).
      await best.save(paths.model, saveMeta(run));
      api.dispose(best);
      modelDir = paths.model;
      const chosen = state.best;
      const criterion = chosen ? (chosen.score !== undefined ? describeScore(chosen.score, chosen.by ?? 'valLoss') : `val loss ${chosen.valLoss.toFixed(4)}`) : '';
      log(STAGE, `exported ${chosen ? `best epoch ${chosen.epoch} (${criterion})` : 'model'} to ${paths.model}`);
    }
  }
  api.dispose(run.model);
  run.optimizer.dispose();
  await api.close?.();
  return { status, history: state.history, best: state.best, modelDir, checkpoint: run.latestCheckpoint, globalStep: state.globalStep };
}

/** Per-step settings of the run (the dropout seed is added per step). */
type StepSettings = { clipNorm: number; attentionPenalty: number; microBatch: number; dropout: number };

/** One optimizer step on batch `b` of the epoch plan: its window's features made resident, then trainStep. */
async function trainBatch(
  run: TrainRun,
  plan: EpochPlan,
  b: number,
  settings: StepSettings,
  dropoutSeed: (seed: number, step: number) => number,
): Promise<{ result: StepResult; seconds: number }> {
  const { data } = run;
  const { window, offset } = locateBatch(plan, b);
  await loadWindow(
    data.cache,
    plan.windows[window].images.map((i) => data.train.images[i]),
    `train window ${window + 1}/${plan.windows.length}`,
  );
  const stepClock = timer();
  const rows = plan.windows[window].batches[offset];
  const t = tensorsFor(data.train, data.cache, rows, data.locations, data.dim);
  const features = tf.tensor3d(t.features, t.shapeF);
  const tokens = tf.tensor2d(t.tokens, t.shapeT, 'int32');
  let result: StepResult;
  try {
    // The dropout mask depends on (seed, global step) only: a resumed run draws the same masks.
    result = await run.api.trainStep(run.model, run.optimizer, features, tokens, { ...settings, dropoutSeed: dropoutSeed(run.cfg.seed, run.state.globalStep + 1) });
  } finally {
    features.dispose();
    tokens.dispose();
  }
  return { result, seconds: stepClock() };
}

/**
 * The training steps of one epoch, from where a mid-epoch checkpoint left off. A stop request
 * (opts.signal) ends the epoch after the current step with a mid-epoch checkpoint: 'interrupted'.
 * A non-finite loss or gradient norm throws (exit code 3) without saving the diverged state.
 */
async function trainEpoch(
  run: TrainRun,
  epoch: number,
  plan: EpochPlan,
  settings: StepSettings,
  dropoutSeed: (seed: number, step: number) => number,
): Promise<{ totals: EpochTotals; epochClock: () => number } | 'interrupted'> {
  const { cfg, opts } = run;
  const resumingMidEpoch = run.state.epoch === epoch && run.state.batchesDone > 0 && run.state.batchesDone < run.state.epochBatches;
  const start = resumingMidEpoch ? run.state.batchesDone : 0;
  const totals = resumingMidEpoch ? { ...run.state.partial } : emptyTotals();
  const epochClock = timer();
  const bar = progress({ stage: STAGE, label: `epoch ${epoch}/${cfg.epochs}`, total: plan.batchCount - start, unit: 'batches', plain: opts.plainProgress });
  for (let b = start; b < plan.batchCount; b++) {
    const { result, seconds } = await trainBatch(run, plan, b, settings, dropoutSeed);
    if (!Number.isFinite(result.loss) || !Number.isFinite(result.gradNorm)) {
      bar.stop();
      run.writer.close();
      throw new CaptionerError(
        `training diverged: loss ${result.loss}, gradient norm ${result.gradNorm} at epoch ${epoch}, batch ${b + 1}/${plan.batchCount} ` +
          `(global step ${run.state.globalStep + 1}). This state was not saved; the last good checkpoint is ` +
          `${run.latestCheckpoint ?? '(none yet)'}. Lower --train.learningRate, set --train.clipNorm, or check the features for NaN.`,
        3,
      );
    }
    totals.lossSum += result.loss * result.tokens;
    totals.tokens += result.tokens;
    totals.gradNormSum += result.gradNorm;
    totals.trainSeconds += seconds;
    run.state.globalStep += 1;
    run.writer.scalar(TAGS.batchLoss, result.loss, run.state.globalStep);
    bar.tick(1, { loss: totals.lossSum / totals.tokens, 'tok/s': Math.round(totals.tokens / totals.trainSeconds) });
    opts.onStep?.({
      epoch,
      batch: b + 1,
      batches: plan.batchCount,
      globalStep: run.state.globalStep,
      loss: result.loss,
      tokens: result.tokens,
      gradNorm: result.gradNorm,
      numTensors: tf.memory().numTensors,
    });
    // Yield to the event loop so SIGINT/SIGTERM handlers can run between steps.
    await new Promise((r) => setImmediate(r));
    if (opts.signal?.aborted && b + 1 < plan.batchCount) {
      bar.stop();
      totals.wallSeconds += epochClock();
      run.state = { ...run.state, epoch, batchesDone: b + 1, epochBatches: plan.batchCount, partial: totals, savedAt: new Date().toISOString() };
      await saveCheckpoint(run, { best: false });
      log(STAGE, `interrupted: wrote ${run.latestCheckpoint} (epoch ${epoch}, batch ${b + 1}/${plan.batchCount}); continue with --resume`);
      return 'interrupted';
    }
  }
  bar.stop();
  return { totals, epochClock };
}

/** Validation after an epoch: loss over the validation split and, for selectBy valCIDEr, greedy caption quality; the epoch's metrics row. */
async function validateEpoch(
  run: TrainRun,
  epoch: number,
  plan: EpochPlan,
  learningRate: number,
  trained: { totals: EpochTotals; epochClock: () => number },
): Promise<{ metrics: EpochMetrics; quality: CaptionQuality | null }> {
  const { api, model, data, cfg } = run;
  const { totals, epochClock } = trained;
  const valLoss = await evaluateLoss(model, api, data.val, data.valPlan, data.cache, data.locations, data.dim);
  const check = data.captionCheck;
  const quality = check
    ? await validationCaptionQuality(model, api, check.images, check.references, data.cache, data.imagesPerWindow, check.decode, {
        locations: data.locations,
        dim: data.dim,
        batch: cfg.batchSize,
      })
    : null;
  const metrics: EpochMetrics = {
    epoch,
    trainLoss: totals.lossSum / totals.tokens,
    valLoss,
    tokensPerSec: totals.tokens / totals.trainSeconds,
    epochSeconds: totals.wallSeconds + epochClock(),
    lr: learningRate,
    steps: plan.batchCount,
    tokens: totals.tokens,
    gradNorm: totals.gradNormSum / plan.batchCount,
    ...(quality ? { valCider: quality.cider, valBleu4: quality.bleu4, valMeanWords: quality.meanWords, valCapped: quality.capped } : {}),
  };
  return { metrics, quality };
}

/**
 * The state after a finished epoch: its metrics appended to the history, and whether it is the new
 * best by the selection score (higher is better; an epoch without a score, i.e. no validation
 * images, never becomes best over one with). selectBy falls back to valLoss without caption quality.
 */
export function afterEpoch(state: TrainState, metrics: EpochMetrics, selectBy: TrainConfig['selectBy'], hasQuality: boolean): { state: TrainState; improved: boolean } {
  const { epoch, valLoss } = metrics;
  const by = hasQuality ? selectBy : 'valLoss';
  const score = selectionScore(metrics, by) ?? -Infinity;
  const bestScore = state.best ? (state.best.score ?? -state.best.valLoss) : null;
  const improved = bestScore === null || score > bestScore;
  return {
    improved,
    state: {
      ...state,
      epoch,
      batchesDone: metrics.steps,
      epochBatches: metrics.steps,
      partial: emptyTotals(),
      history: [...state.history, metrics],
      best: improved ? { epoch, valLoss: valLoss ?? metrics.trainLoss, by, score } : state.best,
      epochsWithoutImprovement: improved ? 0 : state.epochsWithoutImprovement + 1,
      savedAt: new Date().toISOString(),
    },
  };
}

/** Records a finished epoch: TensorBoard scalars, metrics.jsonl, the epoch checkpoint (best/ when improved), one log line. */
async function recordEpoch(run: TrainRun, metrics: EpochMetrics, quality: CaptionQuality | null, improved: boolean): Promise<void> {
  const { epoch, valLoss } = metrics;
  run.writer.scalars(
    {
      [TAGS.trainLoss]: metrics.trainLoss,
      [TAGS.epochTime]: metrics.epochSeconds,
      ...(valLoss !== null ? { [TAGS.valLoss]: valLoss } : {}),
      ...(quality ? { [TAGS.valCider]: quality.cider * 100, [TAGS.valBleu4]: quality.bleu4 * 100 } : {}),
      [TAGS.tokensPerSec]: metrics.tokensPerSec,
      [TAGS.learningRate]: metrics.lr,
    },
    epoch,
  );
  run.writer.flush();
  writeMetricsJsonl(run.paths.metrics, run.state.history);
  await saveCheckpoint(run, { best: improved });
  log(
    STAGE,
    `epoch ${epoch}: train loss ${metrics.trainLoss.toFixed(4)}, val loss ${valLoss?.toFixed(4) ?? 'n/a'}` +
      (quality
        ? `, val CIDEr-D ${(quality.cider * 100).toFixed(2)} BLEU-4 ${(quality.bleu4 * 100).toFixed(2)} (${quality.meanWords.toFixed(1)} words, ${(quality.capped * 100).toFixed(1)}% capped)`
        : '') +
      `${improved ? ' (best)' : ''}, ${Math.round(metrics.tokensPerSec)} tokens/s, ${metrics.epochSeconds.toFixed(1)} s`,
  );
}

/** Sets Adam's learning rate for the next steps (tf.train.adam reads its learningRate field at every update; the field is protected). */
function setLearningRate(optimizer: tf.Optimizer, learningRate: number): void {
  (optimizer as unknown as { learningRate: number }).learningRate = learningRate;
}

/** The epoch loop: from the epoch the state is in up to `epochs`, with early stopping and stop requests between epochs. */
async function trainEpochs(run: TrainRun): Promise<TrainResult> {
  const { cfg } = run;
  let epoch = run.state.batchesDone < run.state.epochBatches ? run.state.epoch : run.state.epoch + 1;
  if (epoch > cfg.epochs || earlyStopDue(run)) return finishRun(run, 'already-complete');

  const { dropoutSeed } = await import('@captioner/model');
  const settings: StepSettings = { clipNorm: cfg.clipNorm, attentionPenalty: cfg.attentionPenalty, microBatch: cfg.microBatch, dropout: cfg.dropout };
  for (; epoch <= cfg.epochs; epoch++) {
    // The schedule is a function of the finished epochs, so a resumed run gets the same rate.
    const learningRate = learningRateForEpoch(epoch, run.state.history, cfg);
    setLearningRate(run.optimizer, learningRate);
    if (learningRate !== cfg.learningRate) log(STAGE, `epoch ${epoch}: learning rate ${learningRate.toExponential(2)}`);
    const plan = planTrainEpoch(run.data.trainInput, run.data.order, epoch);
    const trained = await trainEpoch(run, epoch, plan, settings, dropoutSeed);
    if (trained === 'interrupted') return finishRun(run, 'interrupted');

    const { metrics, quality } = await validateEpoch(run, epoch, plan, learningRate, trained);
    const next = afterEpoch(run.state, metrics, cfg.selectBy, quality !== null);
    run.state = next.state;
    await recordEpoch(run, metrics, quality, next.improved);
    if (earlyStopDue(run)) {
      log(STAGE, `early stopping: no validation improvement for ${cfg.patience} epochs (best epoch ${run.state.best!.epoch})`);
      return finishRun(run, 'early-stopped');
    }
    if (run.opts.signal?.aborted) {
      log(STAGE, `interrupted after epoch ${epoch}: checkpoint ${run.latestCheckpoint}; continue with --resume`);
      return finishRun(run, 'interrupted');
    }
  }
  return finishRun(run, 'completed');
}

/**
 * Trains the captioner: length-bucketed batches streamed from the feature store, Adam with global
 * norm clipping, per-epoch validation, early stopping, atomic checkpoints (weights + optimizer +
 * data-order position) and TensorBoard logs; exports the best checkpoint to <outDir>/model.
 */
export async function runTrain(opts: RunTrainOptions): Promise<TrainResult> {
  return runTrainWith(opts, {});
}

/** runTrain with its dependencies given (tests); not part of the package API. */
export async function runTrainWith(opts: RunTrainOptions, deps: TrainDependencies): Promise<TrainResult> {
  const cfg = opts.config.train;
  const backend = await currentBackend();
  const api = deps.modelApi ?? (await defaultModelApi({ engine: cfg.engine, backendName: backend?.name }));
  if (api.engine) log(STAGE, `engine ${api.engine}${api.engine === 'onnx' ? ' (onnxruntime-node, native kernels)' : ` (TF.js ${backend?.name ?? ''})`}`);
  const paths = trainPaths(opts.outDir);
  const data = await loadTrainData(opts, api, deps.store);
  const optimizer = tf.train.adam(cfg.learningRate);
  const { model, state } = await startOrResume(opts, api, data, paths, optimizer);
  mkdirSync(paths.checkpoints, { recursive: true });
  const run: TrainRun = {
    opts,
    cfg,
    api,
    data,
    paths,
    model,
    optimizer,
    state,
    featureMeta: featureSetOf(data.store.manifest),
    writer: TensorBoardWriter.open(paths.logs),
    latestCheckpoint: listCheckpoints(paths.checkpoints).at(-1)?.path ?? null,
  };
  try {
    return await trainEpochs(run);
  } catch (err) {
    // Leave nothing behind for in-process callers (tests, notebooks); the checkpoints on disk stay.
    run.writer.close();
    api.dispose(run.model);
    run.optimizer.dispose();
    await api.close?.();
    throw err;
  }
}
