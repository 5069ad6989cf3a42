export {
  CaptionModel,
  DEFAULT_MODEL_DIMS,
  parameterSpecs,
  dropoutMask,
  gruCell,
  referenceLoss,
  type CaptionModelConfig,
  type StepResult,
  type LossOptions,
  type LossAndGradients,
} from './model.js';
export { trainStep, accumulateGradients, applyGradientSums, batchDropoutMask, dropoutSeed, type TrainStepOptions, type TrainStepResult, type GradientSums } from './train-step.js';
export {
  greedyDecode,
  beamSearch,
  sampleDecode,
  repeatedNgramTokens,
  tfjsStepEngine,
  setDefaultStepEngine,
  type DefaultStepEngine,
  type DecodeResult,
  type DecodeOptions,
  type BeamOptions,
  type SampleOptions,
  type StepEngine,
  type StepSession,
} from './decode.js';
export { NativeTrainer, type NativeLossResult } from './native/trainer.js';
export { nativeStepEngine, createNativeStepEngine, autoNativeStepEngine, type NativeStepEngine } from './native/decode-engine.js';
export { loadNative, ortAvailable, resolveTrainEngine, type NativeOptions, type NativeRuntime, type TrainEngine } from './native/runtime.js';
export { buildTrainGraph } from './native/train-graph.js';
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
export {
  modelJsonSchema,
  modelConfigJsonSchema,
  modelFeaturesSchema,
  captionModelConfigSchema,
  trainingInfoSchema,
  type ModelJson,
  type ModelConfigJson,
  type TrainingInfo,
} from './contract.js';
export { readModelArtifacts } from './io.js';

// Node entry: CaptionModel gets save/load/useEngine (files, onnxruntime-node), and decoding picks the
// native engine by default where it runs (engine 'auto'); browsers bundle model.ts/decode.ts without
// this file and stay on TF.js.
import { registerNodeServices } from './model.js';
import { nodeServices } from './node.js';
import { setDefaultStepEngine as registerDefaultEngine } from './decode.js';
import { autoNativeStepEngine as nativeDefault } from './native/decode-engine.js';
registerNodeServices(nodeServices);
registerDefaultEngine(nativeDefault);
