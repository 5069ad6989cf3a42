export { runTrain, trainPaths, valImageLimit, TAGS, type RunTrainOptions, type TrainResult, type StepInfo } from './train.js';
export { trainCommand } from './command.js';
export { TensorBoardWriter, readTensorBoardEvents, readScalars, frameRecord, EVENT_FILE_VERSION, type EventRecord, type ScalarEvent } from './tfevents.js';
export { crc32c, maskedCrc32c } from './crc32c.js';
export { readTokenSplits, readVocab, type TokenRows, type Vocab } from './tokens.js';
export {
  planTrainEpoch,
  planEvalPass,
  epochSeed,
  locateBatch,
  orderFingerprint,
  gatherTokens,
  batchWidth,
  type EpochPlan,
  type PlanWindow,
  type PlanInput,
  type TrainOrder,
} from './batches.js';
export { buildSplit, storeIndex, planInput, FeatureCache, type FeatureStoreLike, type FeatureManifest, type SplitData } from './dataset.js';
export {
  listCheckpoints,
  writeCheckpoint,
  rotateCheckpoints,
  markBest,
  saveOptimizer,
  loadOptimizer,
  checkpointName,
  BEST_DIR,
  MODEL_DIR,
  STATE_FILE,
  type TrainState,
  type EpochMetrics,
  type CheckpointInfo,
} from './checkpoint.js';
export { readMetricsJsonl } from './metrics.js';
export { defaultModelApi, type ModelApi, type TrainableModel, type StepResult } from './model-api.js';
