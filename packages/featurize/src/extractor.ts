/**
 * The seam between the featurize stage (images in, Arrow shards out) and the engines that run the
 * CNN (TF.js on any backend, or onnxruntime-node). Engines own weights and the network; the stage
 * owns decoding, batching, hashing and files.
 */
export type FeatureLayer = 'mixed10' | 'mixed5';
export type PixelScaling = '0,1' | '-1,1';

export interface FeatureExtractorOptions {
  layer: FeatureLayer;
  /** Folder of a TF.js layers model (model.json + shards); undefined = the bundled nsfwjs InceptionV3. */
  weights?: string;
}

export interface FeatureExtractor {
  /** e.g. "onnxruntime-node (cpu, 2 threads)" or "tfjs (wasm, 2 threads)". */
  readonly engine: string;
  /** Square input side in pixels (299 for InceptionV3). */
  readonly inputSize: number;
  /** Grid locations per image after any pooling (64 for an 8x8 grid). */
  readonly locations: number;
  readonly grid: [number, number];
  /** Channels per location (2048 for mixed10, 768 for mixed5). */
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
