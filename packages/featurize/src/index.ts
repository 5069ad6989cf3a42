export type { FeatureBackbone, FeatureExtractor, FeatureExtractorOptions, FeatureLayer, PixelScaling } from './extractor.js';
export {
  createFeatureExtractor,
  onnxRuntimeAvailable,
  LAYER_GEOMETRY,
  layerGeometry,
  readTflite,
  dequantize,
  TfliteFormatError,
  mobileNetFromTflite,
  floatNetToTensor,
  mobileNetToOnnx,
  mobileNetToTfjs,
  loadMobileNet,
  mobileNetLabels,
  type CreateFeatureExtractorOptions,
  type EngineName,
  type LayerGeometry,
  type TfliteModel,
  type FloatNet,
  type MobileNetTarget,
  type MobileNetTfjs,
} from './engines/index.js';
export { runFeaturize, type RunFeaturizeOptions } from './featurize.js';
export { openFeatureStore, type FeatureStore, type FeatureStoreOptions } from './store.js';
export { featurizeImage, disposeFeaturizeImageCache, type FeaturizeImageOptions } from './featurize-image.js';
export { preprocessImage, decodeImage, resizeAndScale, readImageBytes, ImageDecodeError, type ImageFailureKind, type PreprocessOptions, type DecodedImage } from './preprocess.js';
export { float32ToFloat16, float16ToFloat32, toFloat16Bits, fromFloat16Bits } from './float16.js';
export {
  readFeaturizeManifest,
  validateManifest,
  settingsHash,
  MANIFEST_FILE,
  type FeaturizeManifest,
  type FeatureSettings,
  type FeatureDtype,
  type ShardEntry,
  type FailedImage,
} from './manifest.js';
export { featurizeManifestSchema, MANIFEST_VERSION } from './contract.js';
export { stage } from './stage.js';
