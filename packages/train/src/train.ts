import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { currentBackend, tf } from '@captioner/tf';
import { CaptionerError, featureSetOf, type PipelineConfig } from '@captioner/core';
import { END_TOKEN, START_TOKEN } from '@captioner/text-clean/contract';
import { log, progress, timer } from '@captioner/core/node';
import {
  gatherTokens,
  locateBatch,
  orderFingerprint,
  planEvalPass,
  planTrainEpoch,
  type EpochPlan,
  type TrainOrder,
} from './batches.js';
import {
  BEST_DIR,
  listCheckpoints,
  loadOptimizer,
  markBest,
  MODEL_DIR,
  rotateCheckpoints,
  writeCheckpoint,
  type EpochMetrics,
  type TrainState,
} from './checkpoint.js';
import { buildSplit, FeatureCache, planInput, storeIndex, type FeatureStoreLike, type SplitData } from './dataset.js';
import { writeMetricsJsonl } from './metrics.js';
import { TensorBoardWriter } from './tfevents.js';
import { readTokenSplits, readVocab } from './tokens.js';
import { defaultModelApi, type ModelApi, type TrainableModel } from './model-api.js';
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
  /** An already opened feature store (default: openFeatureStore(featurizeDir)). */
  store?: FeatureStoreLike;
  /** Model implementation (default: @captioner/model). */
  modelApi?: ModelApi;
  /** Fault injection for tests: replace the features of this global step (1-based) with NaN. */
  testHooks?: { nanFeaturesAtStep?: number };
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
    await loadWindow(cache, window.images.map((i) => data.images[i]), `${data.split} window ${w + 1}/${plan.windows.length}`);
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

/**
 * Trains the captioner: length-bucketed batches streamed from the feature store, Adam with global
 * norm clipping, per-epoch validation, early stopping, atomic checkpoints (weights + optimizer +
 * data-order position) and TensorBoard logs; exports the best checkpoint to <outDir>/model.
 */
export async function runTrain(opts: RunTrainOptions): Promise<TrainResult> {
  const cfg = opts.config.train;
  const backend = await currentBackend();
  const api = opts.modelApi ?? (await defaultModelApi({ engine: cfg.engine, backendName: backend?.name }));
  if (api.engine) log(STAGE, `engine ${api.engine}${api.engine === 'onnx' ? ' (onnxruntime-node, native kernels)' : ` (TF.js ${backend?.name ?? ''})`}`);
  const paths = trainPaths(opts.outDir);

  const vocabPath = join(opts.tokenizeDir, 'vocab.json');
  const vocab = readVocab(vocabPath);
  const tokensPath = join(opts.tokenizeDir, 'tokens.arrow');
  const splits = await readTokenSplits(tokensPath, ['train', 'val'], { vocabSize: vocab.vocabSize });
  // The budget is shared: an eighth for the store's raw shard cache (it keeps at least one shard),
  // the rest for resident float32 features.
  const storeBudgetMiB = Math.max(1, Math.floor(cfg.memoryBudgetMB / 8));
  const store = opts.store ?? api.openFeatureStore(opts.featurizeDir, storeBudgetMiB);
  const { locations, dim } = store.manifest;
  const index = storeIndex(store);
  const train = buildSplit(splits.get('train')!, store, index, { maxImages: cfg.maxImages });
  if (train.rowCount === 0) {
    throw new CaptionerError(`${tokensPath}: no train-split rows with features in ${opts.featurizeDir} (run \`captioner featurize\`?)`);
  }
  const valRows = splits.get('val')!;
  const val = buildSplit(valRows, store, index, { maxImages: valImageLimit(cfg, train.available, valRows.images.length) });
  if (val.rowCount === 0) log(STAGE, 'no validation rows: early stopping and best/ use the training loss instead');

  // selectBy valCIDEr: the validation images to caption each epoch and their raw references.
  let captionCheck: { images: string[]; references: Map<string, string[]>; decode: Parameters<ModelApi['greedyCaptions']>[2] } | null = null;
  if (cfg.selectBy === 'valCIDEr' && val.images.length > 0) {
    if (!opts.ingestDir) throw new CaptionerError('train.selectBy valCIDEr needs the ingest stage folder (captions.arrow with the raw references)');
    const references = readReferences(opts.ingestDir, 'val');
    const words: string[] = [];
    for (const [word, id] of Object.entries(vocab.wordIndex)) if (id < vocab.vocabSize) words[id] = word;
    const idOf = (token: string) => {
      const id = vocab.wordIndex[token];
      if (!Number.isInteger(id) || id <= 0 || id >= vocab.vocabSize) throw new CaptionerError(`${vocabPath}: token "${token}" is missing or outside the vocabulary`);
      return id;
    };
    const images = val.images.filter((image) => references.has(image)).slice(0, cfg.selectionImages ?? undefined);
    captionCheck = { images, references, decode: { startId: idOf(START_TOKEN), endId: idOf(END_TOKEN), maxLength: vocab.maxLength - 1, words } };
    log(STAGE, `checkpoint selection: greedy CIDEr-D on ${images.length} validation images each epoch`);
  }

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

  // Model, optimizer and state: fresh, or from the newest checkpoint.
  let model: TrainableModel;
  let state: TrainState;
  const optimizer = tf.train.adam(cfg.learningRate);
  if (opts.resume) {
    const latest = listCheckpoints(paths.checkpoints).at(-1);
    if (!latest) throw new CaptionerError(`--resume: no checkpoint in ${paths.checkpoints} (run without --resume to start)`);
    if (latest.state.orderFingerprint !== fingerprint) {
      throw new CaptionerError(
        `--resume: ${latest.path} was trained on a different data order (inputs, seed, batchSize, bucketChunk, maxImages or ` +
          `memoryBudgetMB changed: fingerprint ${latest.state.orderFingerprint} vs ${fingerprint}); start again without --resume`,
      );
    }
    model = await api.load(join(latest.path, MODEL_DIR));
    await loadOptimizer(optimizer, latest.path);
    state = latest.state;
    log(STAGE, `resuming from ${latest.name}: epoch ${state.epoch}, ${state.batchesDone}/${state.epochBatches} batches, step ${state.globalStep}`);
  } else {
    for (const p of [paths.checkpoints, paths.logs, paths.metrics, paths.model]) rmSync(p, { recursive: true, force: true });
    model = api.create(
      {
        vocabSize: vocab.vocabSize,
        locations,
        featureDim: dim,
        embeddingDim: opts.config.model.embeddingDim,
        units: opts.config.model.units,
        attentionUnits: opts.config.model.attentionUnits,
      },
      cfg.seed,
    );
    state = freshState(cfg.seed, fingerprint);
  }
  mkdirSync(paths.checkpoints, { recursive: true });

  // The featurize settings a caption-time featurizer must reproduce; run bookkeeping is left out.
  // The feature set the model is trained on (features.json), not the run's shards and statistics.
  const featureMeta = featureSetOf(store.manifest);
  const trainingMeta = () => ({
    epoch: state.epoch,
    globalStep: state.globalStep,
    best: state.best,
    train: cfg,
    images: { train: train.images.length, val: val.images.length },
  });
  const saveMeta = () => ({ vocab, features: featureMeta, training: trainingMeta() });

  const writer = TensorBoardWriter.open(paths.logs);
  let latestCheckpoint: string | null = listCheckpoints(paths.checkpoints).at(-1)?.path ?? null;
  const earlyStopDue = () => cfg.patience > 0 && state.epochsWithoutImprovement >= cfg.patience;
  const finish = async (status: TrainResult['status']): Promise<TrainResult> => {
    writer.close();
    let modelDir: string | null = null;
    if (status !== 'interrupted') {
      const bestDir = join(paths.checkpoints, BEST_DIR, MODEL_DIR);
      const source = existsSync(bestDir) ? bestDir : latestCheckpoint ? join(latestCheckpoint, MODEL_DIR) : null;
      if (source) {
        const best = await api.load(source);
        // model.save writes atomically (temp folder + rename).
        await best.save(paths.model, saveMeta());
        api.dispose(best);
        modelDir = paths.model;
        const chosen = state.best;
        const criterion = chosen ? (chosen.score !== undefined ? describeScore(chosen.score, chosen.by ?? 'valLoss') : `val loss ${chosen.valLoss.toFixed(4)}`) : '';
        log(STAGE, `exported ${chosen ? `best epoch ${chosen.epoch} (${criterion})` : 'model'} to ${paths.model}`);
      }
    }
    api.dispose(model);
    optimizer.dispose();
    await api.close?.();
    return { status, history: state.history, best: state.best, modelDir, checkpoint: latestCheckpoint, globalStep: state.globalStep };
  };

  const trainEpochs = async (): Promise<TrainResult> => {
    let epoch = state.batchesDone < state.epochBatches ? state.epoch : state.epoch + 1;
    if (epoch > cfg.epochs || earlyStopDue()) return finish('already-complete');

    const { dropoutSeed: dropoutStepSeed } = await import('@captioner/model');
    const stepOptions = { clipNorm: cfg.clipNorm, attentionPenalty: cfg.attentionPenalty, microBatch: cfg.microBatch, dropout: cfg.dropout };
    for (; epoch <= cfg.epochs; epoch++) {
      // The schedule is a function of the finished epochs, so a resumed run gets the same rate.
      const learningRate = learningRateForEpoch(epoch, state.history, cfg);
      // tf.train.adam reads its learningRate field at every update.
      (optimizer as unknown as { learningRate: number }).learningRate = learningRate;
      if (learningRate !== cfg.learningRate) log(STAGE, `epoch ${epoch}: learning rate ${learningRate.toExponential(2)}`);
      const plan = planTrainEpoch(trainInput, order, epoch);
      const resumingMidEpoch = state.epoch === epoch && state.batchesDone > 0 && state.batchesDone < state.epochBatches;
      const start = resumingMidEpoch ? state.batchesDone : 0;
      const acc = resumingMidEpoch ? { ...state.partial } : { lossSum: 0, tokens: 0, gradNormSum: 0, trainSeconds: 0, wallSeconds: 0 };
      const epochClock = timer();
      const bar = progress({ stage: STAGE, label: `epoch ${epoch}/${cfg.epochs}`, total: plan.batchCount - start, unit: 'batches', plain: opts.plainProgress });
      let interrupted = false;
      for (let b = start; b < plan.batchCount; b++) {
        const { window, offset } = locateBatch(plan, b);
        await loadWindow(cache, plan.windows[window].images.map((i) => train.images[i]), `train window ${window + 1}/${plan.windows.length}`);
        const stepClock = timer();
        const rows = plan.windows[window].batches[offset];
        const t = tensorsFor(train, cache, rows, locations, dim);
        if (opts.testHooks?.nanFeaturesAtStep === state.globalStep + 1) t.features.fill(Number.NaN);
        const features = tf.tensor3d(t.features, t.shapeF);
        const tokens = tf.tensor2d(t.tokens, t.shapeT, 'int32');
        let result: { loss: number; tokens: number; gradNorm: number };
        try {
          // The dropout mask depends on (seed, global step) only: a resumed run draws the same masks.
          result = await api.trainStep(model, optimizer, features, tokens, { ...stepOptions, dropoutSeed: dropoutStepSeed(cfg.seed, state.globalStep + 1) });
        } finally {
          features.dispose();
          tokens.dispose();
        }
        if (!Number.isFinite(result.loss) || !Number.isFinite(result.gradNorm)) {
          bar.stop();
          writer.close();
          throw new CaptionerError(
            `training diverged: loss ${result.loss}, gradient norm ${result.gradNorm} at epoch ${epoch}, batch ${b + 1}/${plan.batchCount} ` +
              `(global step ${state.globalStep + 1}). This state was not saved; the last good checkpoint is ` +
              `${latestCheckpoint ?? '(none yet)'}. Lower --train.learningRate, set --train.clipNorm, or check the features for NaN.`,
            3,
          );
        }
        const seconds = stepClock();
        acc.lossSum += result.loss * result.tokens;
        acc.tokens += result.tokens;
        acc.gradNormSum += result.gradNorm;
        acc.trainSeconds += seconds;
        state.globalStep += 1;
        writer.scalar(TAGS.batchLoss, result.loss, state.globalStep);
        bar.tick(1, { loss: acc.lossSum / acc.tokens, 'tok/s': Math.round(acc.tokens / acc.trainSeconds) });
        opts.onStep?.({
          epoch,
          batch: b + 1,
          batches: plan.batchCount,
          globalStep: state.globalStep,
          loss: result.loss,
          tokens: result.tokens,
          gradNorm: result.gradNorm,
          numTensors: tf.memory().numTensors,
        });
        // Yield to the event loop so SIGINT/SIGTERM handlers can run between steps.
        await new Promise((r) => setImmediate(r));
        if (opts.signal?.aborted && b + 1 < plan.batchCount) {
          bar.stop();
          acc.wallSeconds += epochClock();
          state = { ...state, epoch, batchesDone: b + 1, epochBatches: plan.batchCount, partial: acc, savedAt: new Date().toISOString() };
          await api.sync?.(model, optimizer);
          latestCheckpoint = await writeCheckpoint(paths.checkpoints, model, optimizer, state, saveMeta());
          rotateCheckpoints(paths.checkpoints, cfg.keepLast);
          log(STAGE, `interrupted: wrote ${latestCheckpoint} (epoch ${epoch}, batch ${b + 1}/${plan.batchCount}); continue with --resume`);
          interrupted = true;
          break;
        }
      }
      if (interrupted) return finish('interrupted');
      bar.stop();

      const valLoss = await evaluateLoss(model, api, val, valPlan, cache, locations, dim);
      const quality = captionCheck
        ? await validationCaptionQuality(model, api, captionCheck.images, captionCheck.references, cache, imagesPerWindow, captionCheck.decode, {
            locations,
            dim,
            batch: cfg.batchSize,
          })
        : null;
      const metrics: EpochMetrics = {
        epoch,
        trainLoss: acc.lossSum / acc.tokens,
        valLoss,
        tokensPerSec: acc.tokens / acc.trainSeconds,
        epochSeconds: acc.wallSeconds + epochClock(),
        lr: learningRate,
        steps: plan.batchCount,
        tokens: acc.tokens,
        gradNorm: acc.gradNormSum / plan.batchCount,
        ...(quality ? { valCider: quality.cider, valBleu4: quality.bleu4, valMeanWords: quality.meanWords, valCapped: quality.capped } : {}),
      };
      // Higher is better; an epoch without a score (no validation images) never becomes best over one with.
      const by = quality ? cfg.selectBy : 'valLoss';
      const score = selectionScore(metrics, by) ?? -Infinity;
      const bestScore = state.best ? (state.best.score ?? -state.best.valLoss) : null;
      const improved = bestScore === null || score > bestScore;
      state = {
        ...state,
        epoch,
        batchesDone: plan.batchCount,
        epochBatches: plan.batchCount,
        partial: { lossSum: 0, tokens: 0, gradNormSum: 0, trainSeconds: 0, wallSeconds: 0 },
        history: [...state.history, metrics],
        best: improved ? { epoch, valLoss: valLoss ?? metrics.trainLoss, by, score } : state.best,
        epochsWithoutImprovement: improved ? 0 : state.epochsWithoutImprovement + 1,
        savedAt: new Date().toISOString(),
      };
      writer.scalars(
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
      writer.flush();
      writeMetricsJsonl(paths.metrics, state.history);
      await api.sync?.(model, optimizer);
      latestCheckpoint = await writeCheckpoint(paths.checkpoints, model, optimizer, state, saveMeta());
      if (improved) await markBest(paths.checkpoints, latestCheckpoint);
      rotateCheckpoints(paths.checkpoints, cfg.keepLast);
      log(
        STAGE,
        `epoch ${epoch}: train loss ${metrics.trainLoss.toFixed(4)}, val loss ${valLoss?.toFixed(4) ?? 'n/a'}` +
          (quality ? `, val CIDEr-D ${(quality.cider * 100).toFixed(2)} BLEU-4 ${(quality.bleu4 * 100).toFixed(2)} (${quality.meanWords.toFixed(1)} words, ${(quality.capped * 100).toFixed(1)}% capped)` : '') +
          `${improved ? ' (best)' : ''}, ${Math.round(metrics.tokensPerSec)} tokens/s, ${metrics.epochSeconds.toFixed(1)} s`,
      );
      if (earlyStopDue()) {
        log(STAGE, `early stopping: no validation improvement for ${cfg.patience} epochs (best epoch ${state.best!.epoch})`);
        return finish('early-stopped');
      }
      if (opts.signal?.aborted) {
        log(STAGE, `interrupted after epoch ${epoch}: checkpoint ${latestCheckpoint}; continue with --resume`);
        return finish('interrupted');
      }
    }
    return finish('completed');
  };
  try {
    return await trainEpochs();
  } catch (err) {
    // Leave nothing behind for in-process callers (tests, notebooks); the checkpoints on disk stay.
    writer.close();
    api.dispose(model);
    optimizer.dispose();
    await api.close?.();
    throw err;
  }
}
