// The metrics live in @captioner/metrics (train needs them too); re-exported so this API is unchanged.
export * from '@captioner/metrics';
export { runEvaluate, cleanedReferenceTokens, resultsTable, METRIC_NOTES, type RunEvaluateOptions, type EvaluateReport, type MethodReport } from './evaluate.js';
export {
  constantCandidates,
  chooseConstantCaption,
  pooledFeatures,
  nearestNeighbours,
  consensusCaptionIndex,
  baselineWarnings,
  type ConstantCandidate,
  type ConstantChoice,
  type ConstantMetric,
  type Neighbour,
  type BaselineWarning,
} from './baselines.js';
export { runBaselines, type BaselinesReport, type BaselineRow, type ConstantBaselineRow, type NearestNeighbourRow } from './baseline-stage.js';
export { evaluateReportSchema, predictionLineSchema, METRICS_FILE, PREDICTIONS_JSONL_FILE, type PredictionLine } from './contract.js';
export { readReferences, type Split } from './references.js';
export { predictionsTable, predictionsJsonl, PREDICTIONS_SCHEMA_VERSION, type PredictionRow, type DecodingMethod } from './outputs.js';
export { loadTrainedModel, checkFeatureCompatibility, checkpointInfo, type TrainedModel } from './trained-model.js';
export { loadCaptioner, type Captioner, type CaptionOptions, type CaptionResult, type LoadCaptionerOptions } from './captioner.js';
export { evaluateCommand, captionCommand, expandImageArguments, attentionPngPath, IMAGE_EXTENSIONS } from './commands.js';
export { tuneDecoding, decodeGrid, tuneReportPath, type DecodeSetting, type TuneRow, type TuneReport, type TuneDecodingOptions } from './tune.js';
export { tuneDecodingCommand } from './tune-command.js';
