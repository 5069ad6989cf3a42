/**
 * The onnxruntime-node engine: the truncated InceptionV3 or the MobileNetV2 from its TFLite file,
 * exported to ONNX (cached), run on the CPU EP.
 */
import { availableParallelism } from 'node:os';
import type { InferenceSession as OrtSession } from 'onnxruntime-node';
import { rmSync } from 'node:fs';
import { CaptionerError } from '@captioner/core';
import { log } from '@captioner/core/node';
import type { FeatureExtractor, FeatureExtractorOptions } from '../extractor.js';
import { layerGeometry, type InceptionLayer, type MobileNetLayer } from './backbones.js';
import { loadTruncatedModel } from './inception.js';
import { backboneFor, makeExtractor, threadsLabel } from './extractor-base.js';
import { cachedMobileNetOnnxPath, loadMobileNet } from './mobilenet-load.js';
import { MOBILENET_ONNX_INPUT, MOBILENET_ONNX_OUTPUT } from './mobilenet-onnx.js';
import { cachedFeatureModelPath, ONNX_INPUT, ONNX_OUTPUT } from './onnx-export.js';

export interface OnnxExtractorOptions extends FeatureExtractorOptions {
  /** Intra-op threads (default: env CAPTIONER_THREADS, as for TF.js wasm, else all cores). */
  threads?: number;
  /** onnxruntime graph optimization level (default 'all'). */
  graphOptimizationLevel?: 'disabled' | 'basic' | 'extended' | 'all';
  /** Operator scheduling (default 'sequential': InceptionV3's branches are too small to gain from 'parallel'; MobileNetV2 has none). */
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

/** A network to run: its size, weights hash, and where its .onnx is (exported into the cache on first use). */
interface OnnxModelSource {
  inputSize: number;
  weightsHash: string;
  input: string;
  output: string;
  onnxPath(cacheDir?: string): { path: string; exported: boolean };
}

function modelSource(opts: OnnxExtractorOptions): OnnxModelSource {
  if (backboneFor(opts) === 'mobilenet_v2') {
    const model = loadMobileNet({ target: opts.layer as MobileNetLayer, weights: opts.weights });
    return { ...model, input: MOBILENET_ONNX_INPUT, output: MOBILENET_ONNX_OUTPUT, onnxPath: (dir) => cachedMobileNetOnnxPath(model, dir) };
  }
  const truncated = loadTruncatedModel({ layer: opts.layer as InceptionLayer, weights: opts.weights });
  return { ...truncated, input: ONNX_INPUT, output: ONNX_OUTPUT, onnxPath: (dir) => cachedFeatureModelPath(truncated, dir) };
}

export async function createOnnxExtractor(opts: OnnxExtractorOptions): Promise<FeatureExtractor> {
  const ort = await loadOnnxRuntime();
  const source = modelSource(opts);
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
  const cached = source.onnxPath(opts.cacheDir);
  let session: OrtSession;
  try {
    session = await ort.InferenceSession.create(cached.path, sessionOptions);
  } catch (err) {
    if (cached.exported) throw err;
    // A cached file from elsewhere (damaged, or another onnxruntime) gets one fresh export.
    log('featurize', `cached ONNX model ${cached.path} does not load (${(err as Error).message.split('\n')[0]}); exporting it again`);
    rmSync(cached.path, { force: true });
    session = await ort.InferenceSession.create(source.onnxPath(opts.cacheDir).path, sessionOptions);
  }
  const { grid, dim } = layerGeometry(opts.layer);
  const expected = (n: number) => n * grid[0] * grid[1] * dim;
  const size = source.inputSize;
  const run = async (pixels: Float32Array, n: number): Promise<Float32Array> => {
    const input = new ort.Tensor('float32', pixels, [n, size, size, 3]);
    try {
      const data = (await session.run({ [source.input]: input }))[source.output].data as Float32Array;
      if (data.length !== expected(n)) throw new Error(`onnx output has ${data.length} values, expected ${expected(n)}`);
      return data;
    } finally {
      // Output buffers are JS-owned copies in onnxruntime-node; dispose releases the tensor wrapper.
      input.dispose();
    }
  };
  return makeExtractor(source, opts.layer, `onnxruntime-node (cpu, ${threadsLabel(threads)})`, run, () => void session.release());
}
