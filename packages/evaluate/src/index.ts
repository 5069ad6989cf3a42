// The metrics live in @captioner/metrics (train needs them too); re-exported so this API is unchanged.
export * from '@captioner/metrics';
// The package API as its README documents it; the baselines, predictions writers and the decoding
// grid search stay inside (the stage and `captioner tune-decoding` run them).
export { runEvaluate, cleanedReferenceTokens, type RunEvaluateOptions, type EvaluateReport, type MethodReport } from './evaluate.js';
export { evaluateReportSchema, predictionLineSchema, METRICS_FILE, PREDICTIONS_JSONL_FILE, type PredictionLine } from './contract.js';
export { loadTrainedModel, checkFeatureCompatibility, checkpointInfo, type TrainedModel } from './trained-model.js';
export { loadCaptioner, type Captioner, type CaptionOptions, type CaptionResult, type LoadCaptionerOptions } from './captioner.js';
export { stage } from './stage.js';
// The caption command lives in the inference package; re-exported so evaluate's API is unchanged.
export { captionCommand, expandImageArguments, attentionPngPath, IMAGE_EXTENSIONS } from '@captioner/caption';
export { tuneDecodingCommand } from './tune-command.js';
