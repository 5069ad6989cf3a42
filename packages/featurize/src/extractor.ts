/**
 * The seam between the featurize stage (images in, Arrow shards out) and the engines that run the
 * CNN (TF.js on any backend, or onnxruntime-node). Engines own weights and the network; the stage
 * owns decoding, batching, hashing and files.
 */
import type { FeatureBackbone, FeatureLayerName, PixelScalingName } from '@captioner/core';

/** Layer and backbone names come from core's FEATURE_BACKBONES table (the config validates them). */
export type FeatureLayer = FeatureLayerName;
export type { FeatureBackbone };
export type PixelScaling = PixelScalingName;

export interface FeatureExtractorOptions {
  /** Default: the backbone the layer belongs to (layer names are unique across backbones). */
  backbone?: FeatureBackbone;
  layer: FeatureLayer;
  /**
   * inception_v3: folder of a TF.js layers model (model.json + shards), undefined = the bundled nsfwjs
   * InceptionV3. mobilenet_v2: a .tflite file of the same architecture, undefined = the bundled one.
   */
  weights?: string;
}

export interface FeatureExtractor {
  /** e.g. "onnxruntime-node (cpu, 2 threads)" or "tfjs (wasm, 2 threads)". */
  readonly engine: string;
  /** Square input side in pixels (299 for InceptionV3, 224 for MobileNetV2). */
  readonly inputSize: number;
  /** Grid locations per image after any pooling (64 for an 8x8 grid). */
  readonly locations: number;
  readonly grid: [number, number];
  /** Channels per location (2048 for mixed10, 768 for mixed5, 1280 for Conv_1, 320 for expanded_conv_16). */
  readonly dim: number;
  /** sha256 over the weights actually used: goes into the manifest so changed weights invalidate features. */
  readonly weightsHash: string;
  /**
   * Runs the network on `n` preprocessed images, NHWC float32 (n x inputSize x inputSize x 3, already
   * scaled), returning n x locations x dim float32 in row-major grid order.
   */
  extract(pixels: Float32Array, n: number): Promise<Float32Array>;
  dispose(): void;
}
