/**
 * Engine selection. `auto` = onnxruntime-node when its native binding loads on this platform
 * (several times faster than tfjs-wasm on CPU), else TF.js on the current backend.
 */
import type { EngineName } from '@captioner/core';
import { log } from '@captioner/core/node';
import type { FeatureExtractor, FeatureExtractorOptions } from '../extractor.js';
import { createOnnxExtractor, loadOnnxRuntime, type OnnxExtractorOptions } from './onnx-engine.js';
import { createTfjsExtractor } from './tfjs-engine.js';

/** The config's engine names (core's ENGINE_NAMES). */
export type { EngineName };

export interface CreateFeatureExtractorOptions extends FeatureExtractorOptions {
  engine: EngineName;
  /** ONNX only: intra-op threads (default all cores). */
  threads?: number;
}

/** True when onnxruntime-node's native binding loads here. */
export async function onnxRuntimeAvailable(): Promise<boolean> {
  try {
    await loadOnnxRuntime();
    return true;
  } catch {
    return false;
  }
}

export async function createFeatureExtractor(opts: CreateFeatureExtractorOptions): Promise<FeatureExtractor> {
  const { engine, threads, ...rest } = opts;
  if (engine === 'tfjs') return createTfjsExtractor(rest);
  if (engine === 'onnx') return createOnnxExtractor({ ...rest, threads });
  if (await onnxRuntimeAvailable()) return createOnnxExtractor({ ...rest, threads });
  log('featurize', 'onnxruntime-node does not load on this platform; using the TF.js engine');
  return createTfjsExtractor(rest);
}

export { createTfjsExtractor } from './tfjs-engine.js';
export { createOnnxExtractor, type OnnxExtractorOptions };
export { FEATURE_LAYERS, INCEPTION_INPUT_SIZE, loadTruncatedModel, type TruncatedModel } from './inception.js';
export { cachedFeatureModelPath, kerasToOnnx, onnxCacheDir } from './onnx-export.js';
export { BACKBONE_INPUT_SIZE, LAYER_GEOMETRY, layerGeometry, resolveBackbone, type LayerGeometry } from './backbones.js';
export { readTflite, dequantize, TfliteFormatError, type TfliteModel, type TfliteTensor, type TfliteOperator } from './tflite.js';
export { mobileNetFromTflite, floatNetFromTflite, floatNetToTensor, type FloatNet, type MobileNetTarget } from './mobilenet.js';
export { mobileNetToOnnx } from './mobilenet-onnx.js';
export { mobileNetToTfjs, type MobileNetTfjs } from './mobilenet-tfjs.js';
export { loadMobileNet, mobileNetLabels, cachedMobileNetOnnxPath, BUNDLED_MOBILENET_TFLITE } from './mobilenet-load.js';
