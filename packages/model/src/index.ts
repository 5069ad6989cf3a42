export {
  CaptionModel,
  DEFAULT_MODEL_DIMS,
  parameterSpecs,
  dropoutMask,
  dropoutSeed,
  gruCell,
  type CaptionModelConfig,
  type StepResult,
  type LossOptions,
  type LossAndGradients,
} from './model.js';
export { trainStep, accumulateGradients, applyGradientSums, batchDropoutMask, type TrainStepOptions, type TrainStepResult, type GradientSums } from './train-step.js';
export { DataParallelTrainer, type DataParallelOptions } from './data-parallel.js';
export { greedyDecode, beamSearch, sampleDecode, repeatedNgramTokens, type DecodeResult, type DecodeOptions, type BeamOptions, type SampleOptions } from './decode.js';
export {
  MODEL_FORMAT,
  MODEL_FILES,
  encodeModelArtifacts,
  modelFromArtifacts,
  type ModelArtifacts,
  type LoadedCaptionModel,
  type SaveExtras,
  type Vocabulary,
  type FeatureInfo,
} from './artifacts.js';
export { referenceLoss } from './reference.js';
