/** The onnxruntime-node engine: the truncated InceptionV3 exported to ONNX (cached), run on the CPU EP. */
import { availableParallelism } from 'node:os';
import type { InferenceSession as OrtSession } from 'onnxruntime-node';
import { rmSync } from 'node:fs';
import { CaptionerError, log } from '@captioner/core';
import type { FeatureExtractor, FeatureExtractorOptions } from '../extractor.js';
import { FEATURE_LAYERS, loadTruncatedModel } from './inception.js';
import { makeExtractor, threadsLabel } from './extractor-base.js';
import { cachedFeatureModelPath, ONNX_INPUT, ONNX_OUTPUT } from './onnx-export.js';

export interface OnnxExtractorOptions extends FeatureExtractorOptions {
  /** Intra-op threads (default: env CAPTIONER_THREADS, as for TF.js wasm, else all cores). */
  threads?: number;
  /** onnxruntime graph optimization level (default 'all'). */
  graphOptimizationLevel?: 'disabled' | 'basic' | 'extended' | 'all';
  /** Operator scheduling (default 'sequential': InceptionV3's branches are too small to gain from 'parallel'). */
  executionMode?: 'sequential' | 'parallel';
  /**
   * Let idle intra-op threads spin-wait for work (default false; onnxruntime's own default is true).
   * Spinning burns CPU between ops; on a busy 2-core machine turning it off measured 1.2-1.8x faster
   * (bench/README.md).
   */
  spinning?: boolean;
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

function threadsFromEnv(): number | undefined {
  const raw = process.env.CAPTIONER_THREADS;
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new CaptionerError(`environment variable CAPTIONER_THREADS: threads must be a positive integer, got '${raw}'`);
  return n;
}

export async function createOnnxExtractor(opts: OnnxExtractorOptions): Promise<FeatureExtractor> {
  const ort = await loadOnnxRuntime();
  const truncated = loadTruncatedModel(opts);
  const threads = opts.threads ?? threadsFromEnv() ?? availableParallelism();
  const sessionOptions: OrtSession.SessionOptions = {
    executionProviders: ['cpu'],
    intraOpNumThreads: threads,
    executionMode: opts.executionMode ?? 'sequential',
    // Only used by 'parallel' mode; sharing the cores with the intra-op pool.
    interOpNumThreads: opts.executionMode === 'parallel' ? threads : 1,
    graphOptimizationLevel: opts.graphOptimizationLevel ?? 'all',
    ...(opts.spinning ? {} : { extra: { session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } } } }),
  };
  const cached = cachedFeatureModelPath(truncated, opts.cacheDir);
  let session: OrtSession;
  try {
    session = await ort.InferenceSession.create(cached.path, sessionOptions);
  } catch (err) {
    if (cached.exported) throw err;
    // A cached file from elsewhere (damaged, or another onnxruntime) gets one fresh export.
    log('featurize', `cached ONNX model ${cached.path} does not load (${(err as Error).message.split('\n')[0]}); exporting it again`);
    rmSync(cached.path, { force: true });
    session = await ort.InferenceSession.create(cachedFeatureModelPath(truncated, opts.cacheDir).path, sessionOptions);
  }
  const { grid, dim } = FEATURE_LAYERS[opts.layer];
  const expected = (n: number) => n * grid[0] * grid[1] * dim;
  const size = truncated.inputSize;
  const run = async (pixels: Float32Array, n: number): Promise<Float32Array> => {
    const input = new ort.Tensor('float32', pixels, [n, size, size, 3]);
    try {
      const data = (await session.run({ [ONNX_INPUT]: input }))[ONNX_OUTPUT].data as Float32Array;
      if (data.length !== expected(n)) throw new Error(`onnx output has ${data.length} values, expected ${expected(n)}`);
      return data;
    } finally {
      // Output buffers are JS-owned copies in onnxruntime-node; dispose releases the tensor wrapper.
      input.dispose();
    }
  };
  return makeExtractor(truncated, opts.layer, `onnxruntime-node (cpu, ${threadsLabel(threads)})`, run, () => void session.release());
}
