/**
 * onnxruntime-node for the native training and decoding paths: loading it (or explaining why it
 * cannot load), session options, and float/int64 tensors over JS arrays.
 */
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import type * as OrtModule from 'onnxruntime-node';
import { CaptionerError } from '@captioner/core';

export type Ort = typeof OrtModule;
export type OrtTensor = OrtModule.Tensor;

export interface NativeOptions {
  /** Intra-op threads (default: env CAPTIONER_THREADS, else all cores). */
  threads?: number;
  /**
   * Let idle intra-op threads spin-wait between ops (onnxruntime's default). The recurrence is
   * hundreds of small ops per step, where waking sleeping threads costs more than spinning.
   */
  spinning?: boolean;
  /** Write onnxruntime's per-node profile (Chrome trace JSON) with this file prefix (benchmarks). */
  profilePrefix?: string;
}

let loaded: Promise<Ort> | null = null;

/** onnxruntime-node, or a CaptionerError saying why it does not load here. */
export function loadOrt(): Promise<Ort> {
  loaded ??= import('onnxruntime-node').then(
    (m) => ((m as unknown as { default?: Ort }).default?.InferenceSession ? (m as unknown as { default: Ort }).default : m),
    (err: Error) => {
      loaded = null;
      throw new CaptionerError(`onnxruntime-node does not load on this platform (${err.message}); use train.engine tfjs`);
    },
  );
  return loaded;
}

/** Whether onnxruntime-node loads in this process. */
export async function ortAvailable(): Promise<boolean> {
  try {
    await loadOrt();
    return true;
  } catch {
    return false;
  }
}

export type TrainEngine = 'onnx' | 'tfjs';

/**
 * The engine for `train.engine`: `auto` is onnx where onnxruntime-node loads, except on tfjs-node
 * (`tensorflow` backend, e.g. a GPU box), which stays on TF.js; `onnx` fails clearly if it cannot load.
 */
export async function resolveTrainEngine(requested: 'auto' | TrainEngine, backendName: string | undefined): Promise<TrainEngine> {
  if (requested === 'tfjs') return 'tfjs';
  if (requested === 'onnx') {
    await loadOrt();
    return 'onnx';
  }
  if (backendName === 'tensorflow') return 'tfjs';
  return (await ortAvailable()) ? 'onnx' : 'tfjs';
}

export function nativeThreads(opts: NativeOptions = {}): number {
  if (opts.threads !== undefined) return opts.threads;
  const raw = process.env.CAPTIONER_THREADS;
  if (raw !== undefined && raw !== '') {
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 1) throw new CaptionerError(`environment variable CAPTIONER_THREADS: threads must be a positive integer, got '${raw}'`);
    return n;
  }
  return availableParallelism();
}

/** What a run returns per output (onnxruntime-common Tensors). */
export type OrtOutputs = Record<string, { data: unknown; dims: readonly number[] }>;

/**
 * A session whose run() is synchronous. onnxruntime-node's native run is synchronous (its async
 * API only defers it with setImmediate), so decoding keeps the synchronous API of the TF.js path
 * by calling the binding directly. onnxruntime-node is pinned (1.30.0); the binding's
 * loadModel/run signatures are those its own backend.js uses.
 */
export interface SyncSession {
  run(feeds: Record<string, OrtTensor>, outputs?: readonly string[]): OrtOutputs;
  /** run() with outputs written into the given tensors (pre-allocated; null = allocate). */
  runWith(feeds: Record<string, OrtTensor>, fetches: Record<string, OrtTensor | null>): OrtOutputs;
  release(): void;
  /** Ends profiling (with NativeOptions.profilePrefix): onnxruntime writes the trace file. */
  endProfiling(): void;
}

interface NativeBinding {
  binding: {
    InferenceSession: new () => {
      loadModel(buffer: ArrayBufferLike, offset: number, length: number, options: object): void;
      run(feeds: Record<string, OrtTensor>, fetches: Record<string, OrtTensor | null>, options: object): OrtOutputs;
      dispose(): void;
      endProfiling(): void;
      outputMetadata: { name: string }[];
    };
  };
  initOrt(): void;
}

/** onnxruntime-node with a synchronous session factory. */
export interface NativeRuntime {
  ort: Ort;
  createSession(bytes: Uint8Array, opts?: NativeOptions): SyncSession;
}

let runtime: Promise<NativeRuntime> | null = null;
let runtimeSync: NativeRuntime | null | undefined;

/**
 * The runtime loaded synchronously (onnxruntime-node is CommonJS), or null when it does not load
 * here; for callers that cannot await (the default decode engine).
 */
export function loadNativeSync(): NativeRuntime | null {
  if (runtimeSync !== undefined) return runtimeSync;
  try {
    const require = createRequire(import.meta.url);
    const ort = require('onnxruntime-node') as Ort;
    const native = require('onnxruntime-node/dist/binding.js') as NativeBinding;
    native.initOrt();
    runtimeSync = { ort, createSession: (bytes: Uint8Array, opts: NativeOptions = {}) => createSession(native, bytes, opts) };
  } catch {
    runtimeSync = null;
  }
  return runtimeSync;
}

export function loadNative(): Promise<NativeRuntime> {
  runtime ??= (async () => {
    const ort = await loadOrt();
    const native = createRequire(import.meta.url)('onnxruntime-node/dist/binding.js') as NativeBinding;
    native.initOrt();
    return { ort, createSession: (bytes: Uint8Array, opts: NativeOptions = {}) => createSession(native, bytes, opts) };
  })();
  return runtime;
}

function createSession(native: NativeBinding, bytes: Uint8Array, opts: NativeOptions): SyncSession {
  const session = new native.binding.InferenceSession();
  const spinning = opts.spinning ?? true;
  session.loadModel(bytes.buffer, bytes.byteOffset, bytes.byteLength, {
    executionProviders: [{ name: 'cpu' }],
    intraOpNumThreads: nativeThreads(opts),
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    enableCpuMemArena: true,
    enableMemPattern: true,
    extra: { session: { intra_op: { allow_spinning: spinning ? '1' : '0' } } },
    ...(opts.profilePrefix ? { enableProfiling: true, profileFilePrefix: opts.profilePrefix } : {}),
  });
  const allOutputs = session.outputMetadata.map((m) => m.name);
  let released = false;
  return {
    run(feeds, outputs = allOutputs) {
      if (released) throw new Error('onnxruntime session used after release()');
      return session.run(feeds, Object.fromEntries(outputs.map((o) => [o, null])), {});
    },
    runWith(feeds, fetches) {
      if (released) throw new Error('onnxruntime session used after release()');
      return session.run(feeds, fetches, {});
    },
    release() {
      if (!released) session.dispose();
      released = true;
    },
    endProfiling() {
      session.endProfiling();
    },
  };
}

export function floatTensor(ort: Ort, data: Float32Array, dims: readonly number[]): OrtTensor {
  return new ort.Tensor('float32', data, dims);
}

export function int64Tensor(ort: Ort, data: Int32Array | readonly number[], dims: readonly number[]): OrtTensor {
  return new ort.Tensor(
    'int64',
    BigInt64Array.from(data as ArrayLike<number>, (v) => BigInt(v)),
    dims,
  );
}
