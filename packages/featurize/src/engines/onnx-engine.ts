/** The onnxruntime-node engine: the truncated InceptionV3 exported to ONNX (cached), run on the CPU EP. */
import { availableParallelism } from 'node:os';
import type { InferenceSession as OrtSession } from 'onnxruntime-node';
import { CaptionerError } from '@captioner/core';
import type { FeatureExtractor, FeatureExtractorOptions } from '../extractor.js';
import { FEATURE_LAYERS, loadTruncatedModel } from './inception.js';
import { cachedFeatureModelPath, ONNX_INPUT, ONNX_OUTPUT } from './onnx-export.js';

export interface OnnxExtractorOptions extends FeatureExtractorOptions {
  /** Intra-op threads (default: all cores). */
  threads?: number;
  /** onnxruntime graph optimization level (default 'all'). */
  graphOptimizationLevel?: 'disabled' | 'basic' | 'extended' | 'all';
  /** Where exported .onnx files are cached (default: see onnxCacheDir()). */
  cacheDir?: string;
}

/** Loads onnxruntime-node, or explains why it cannot be used here. */
export async function loadOnnxRuntime(): Promise<typeof import('onnxruntime-node')> {
  try {
    return await import('onnxruntime-node');
  } catch (err) {
    throw new CaptionerError(`featurize.engine onnx: onnxruntime-node does not load on this platform (${(err as Error).message}); use --featurize.engine tfjs`);
  }
}

export async function createOnnxExtractor(opts: OnnxExtractorOptions): Promise<FeatureExtractor> {
  const ort = await loadOnnxRuntime();
  const truncated = loadTruncatedModel(opts);
  const { path } = cachedFeatureModelPath(truncated, opts.cacheDir);
  const threads = opts.threads ?? availableParallelism();
  const session: OrtSession = await ort.InferenceSession.create(path, {
    executionProviders: ['cpu'],
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: opts.graphOptimizationLevel ?? 'all',
  });
  const geometry = FEATURE_LAYERS[opts.layer];
  const size = truncated.inputSize;
  const locations = geometry.grid[0] * geometry.grid[1];
  return {
    engine: `onnxruntime-node (cpu, ${threads} thread${threads === 1 ? '' : 's'})`,
    inputSize: size,
    locations,
    grid: [...geometry.grid],
    dim: geometry.dim,
    weightsHash: truncated.weightsHash,
    async extract(pixels: Float32Array, n: number): Promise<Float32Array> {
      if (pixels.length !== n * size * size * 3) {
        throw new Error(`extract: got ${pixels.length} floats, expected ${n}x${size}x${size}x3 = ${n * size * size * 3}`);
      }
      const input = new ort.Tensor('float32', pixels, [n, size, size, 3]);
      const result = await session.run({ [ONNX_INPUT]: input });
      const out = result[ONNX_OUTPUT];
      try {
        const data = out.data as Float32Array;
        if (data.length !== n * locations * geometry.dim) throw new Error(`onnx output has ${data.length} values, expected ${n * locations * geometry.dim}`);
        return data;
      } finally {
        // Output buffers are JS-owned copies in onnxruntime-node; dispose releases the tensor wrapper.
        input.dispose();
      }
    },
    dispose() {
      void session.release();
    },
  };
}
