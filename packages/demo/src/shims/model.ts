// @captioner/model for the page: the files its README names as the browser path (artifacts.ts,
// decode.ts; no training, no onnxruntime-node).
export { modelFromArtifacts, MODEL_FILES, type ModelArtifacts, type LoadedCaptionModel } from '../../../model/src/artifacts.js';
export { greedyDecode, beamSearch, type DecodeResult } from '../../../model/src/decode.js';
export { modelJsonSchema, modelConfigJsonSchema, modelFeaturesSchema, type FeatureInfo, type TrainingInfo } from '../../../model/src/contract.js';
