// The package API (README "Public API"); other packages use only `stage`. The loop's internals
// (planner details, dataset joins, the model API seam, checkpoint naming) stay inside.
export { runTrain, type RunTrainOptions, type TrainResult, type StepInfo } from './train.js';
export { stage } from './stage.js';
export { TensorBoardWriter, readTensorBoardEvents, readScalars, type EventRecord, type ScalarEvent } from './tfevents.js';
export { readTokenSplits, readVocab, type TokenRows, type Vocab } from './tokens.js';
export { planTrainEpoch, planEvalPass, gatherTokens, type EpochPlan, type PlanInput, type TrainOrder } from './batches.js';
export { FeatureCache, type FeatureStoreLike } from './dataset.js';
export { listCheckpoints, writeCheckpoint, saveOptimizer, loadOptimizer, type TrainState, type EpochMetrics, type CheckpointInfo } from './checkpoint.js';
export { readMetricsJsonl } from './metrics.js';
