import { existsSync } from 'node:fs';
import os from 'node:os';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import * as tfWasm from '@tensorflow/tfjs-backend-wasm';
import { CaptionerError } from '@captioner/core';
import { registerWasmKernelPatches } from './kernels/index.js';

export type BackendChoice = 'auto' | 'tensorflow' | 'wasm' | 'cpu';
export const BACKEND_CHOICES: readonly BackendChoice[] = ['auto', 'tensorflow', 'wasm', 'cpu'];

export interface InitBackendOptions {
  /** Which backend; 'auto' (default) = tfjs-node-gpu > tfjs-node > wasm > cpu. Env CAPTIONER_BACKEND applies when this is 'auto'/unset. */
  backend?: BackendChoice;
  /** Compute threads for wasm (default env CAPTIONER_THREADS, else os.cpus().length). */
  threads?: number;
  /** Do not print the one-line backend summary to stderr. */
  quiet?: boolean;
}

export interface BackendInfo {
  /** TF.js backend name as registered: 'tensorflow' | 'wasm' | 'cpu'. */
  name: string;
  /** Compute threads the backend really uses (wasm: XNNPACK pool size incl. the main thread). */
  threads: number;
  /** Human-readable detail: which package/binary and why. */
  description: string;
}

/** The emscripten pthread pool of the threaded wasm build has 8 workers; more threads would need workers created after start-up. */
export const MAX_WASM_THREADS = 8;

const require = createRequire(import.meta.url);
const PTHREAD_WORKER_FILE = fileURLToPath(new URL('../worker/wasm-pthread-worker.cjs', import.meta.url));

/** Tried in this order; both register the backend 'tensorflow'. Not dependencies (see README). */
const NODE_BACKEND_PACKAGES = ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node'] as const;

let initialized: { promise: Promise<BackendInfo>; forced: BackendChoice } | undefined;
let shutDown = false;

function parseBackendChoice(value: string, source: string): BackendChoice {
  if ((BACKEND_CHOICES as readonly string[]).includes(value)) return value as BackendChoice;
  throw new CaptionerError(`${source}: unknown backend '${value}' (expected one of ${BACKEND_CHOICES.join(', ')})`);
}

function parseThreads(value: number | string, source: string): number {
  const n = typeof value === 'number' ? value : Number(value.trim());
  if (!Number.isInteger(n) || n < 1) {
    throw new CaptionerError(`${source}: threads must be a positive integer, got '${value}'`);
  }
  return n;
}

/** Resolve options + environment into the backend to force (or 'auto') and the wanted thread count. */
export function resolveBackendRequest(opts: InitBackendOptions = {}, env: NodeJS.ProcessEnv = process.env): { backend: BackendChoice; threads: number } {
  let backend: BackendChoice = opts.backend ? parseBackendChoice(opts.backend, 'initBackend option backend') : 'auto';
  if (backend === 'auto' && env.CAPTIONER_BACKEND) {
    backend = parseBackendChoice(env.CAPTIONER_BACKEND, 'environment variable CAPTIONER_BACKEND');
  }
  let threads: number;
  if (opts.threads !== undefined) threads = parseThreads(opts.threads, 'initBackend option threads');
  else if (env.CAPTIONER_THREADS) threads = parseThreads(env.CAPTIONER_THREADS, 'environment variable CAPTIONER_THREADS');
  else threads = Math.max(1, os.cpus().length);
  return { backend, threads };
}

/**
 * Choose, initialize and activate the TF.js backend for this process.
 *
 * Idempotent: later calls return the first call's result (a later call that forces a *different*
 * backend is an error, since TF.js cannot switch a running pipeline's backend safely).
 * With wasm threads > 1 the backend runs pthread workers; they are unref'd so they do not keep
 * the process alive, but CLIs should still end with `process.exit()` (see README).
 */
export function initBackend(opts: InitBackendOptions = {}): Promise<BackendInfo> {
  if (shutDown) return Promise.reject(new CaptionerError('initBackend: the TF.js backend was shut down in this process'));
  let request: ReturnType<typeof resolveBackendRequest>;
  try {
    request = resolveBackendRequest(opts);
  } catch (error) {
    return Promise.reject(error); // always fail through the promise, never synchronously
  }
  if (initialized) {
    const first = initialized;
    if (request.backend === 'auto' || request.backend === first.forced) return first.promise;
    return first.promise.then((info) => {
      if (info.name === request.backend) return info;
      throw new CaptionerError(`initBackend: backend '${request.backend}' requested, but this process already runs '${info.name}'`);
    });
  }
  const promise = selectBackend(request.backend, request.threads).then((info) => {
    if (!opts.quiet) process.stderr.write(`[tf] backend ${info.name}, ${info.threads} thread${info.threads === 1 ? '' : 's'} (${info.description})\n`);
    return info;
  });
  initialized = { promise, forced: request.backend };
  // A failed initialization may be retried (e.g. with another backend).
  promise.catch(() => {
    if (initialized?.promise === promise) initialized = undefined;
  });
  return promise;
}

/** The active backend's info, or undefined before initBackend resolved. */
export async function currentBackend(): Promise<BackendInfo | undefined> {
  return initialized?.promise.catch(() => undefined);
}

/**
 * Release the backend (wasm: stops the pthread workers). Call at most once, at the very end;
 * TF.js cannot be used in this process afterwards.
 */
export async function shutdownBackend(): Promise<void> {
  if (!initialized || shutDown) return;
  const info = await initialized.promise.catch(() => undefined);
  shutDown = true;
  initialized = undefined;
  if (info) tf.removeBackend(info.name); // BackendWasm.dispose() terminates its pthread workers
}

async function selectBackend(choice: BackendChoice, threads: number): Promise<BackendInfo> {
  if (choice === 'tensorflow') {
    const failures: string[] = [];
    for (const pkg of NODE_BACKEND_PACKAGES) {
      const result = await tryNodeBackend(pkg);
      if ('info' in result) return result.info;
      failures.push(`${pkg}: ${result.reason}`);
    }
    throw new CaptionerError(
      `backend 'tensorflow' was requested but cannot be loaded:\n  ${failures.join('\n  ')}\n` +
        `Install it with: npm install @tensorflow/tfjs-node-gpu@${tf.version.tfjs} (or @tensorflow/tfjs-node@${tf.version.tfjs})`,
    );
  }
  if (choice === 'wasm') return initWasm(threads);
  if (choice === 'cpu') return initCpu();

  for (const pkg of NODE_BACKEND_PACKAGES) {
    const result = await tryNodeBackend(pkg);
    if ('info' in result) return result.info;
    if (result.installed) process.stderr.write(`[tf] ${pkg} is installed but unusable (${result.reason}); trying the next backend\n`);
  }
  try {
    return await initWasm(threads);
  } catch (error) {
    process.stderr.write(`[tf] wasm backend failed (${(error as Error).message}); falling back to cpu\n`);
    return initCpu();
  }
}

/**
 * Load tfjs-node(-gpu) if installed. It is not a dependency (its install script downloads
 * libtensorflow), so the specifier is a variable: TypeScript must not resolve it.
 */
async function tryNodeBackend(pkg: string): Promise<{ info: BackendInfo } | { reason: string; installed: boolean }> {
  try {
    require.resolve(pkg);
  } catch {
    return { reason: 'not installed', installed: false };
  }
  const failed = (reason: string) => ({ reason, installed: true });
  try {
    // Importing registers the 'tensorflow' backend on the tfjs-core it resolves to.
    await import(pkg);
  } catch (error) {
    // tfjs-node-gpu fails here when libtensorflow's CUDA libraries do not load.
    return failed(`failed to load: ${(error as Error).message.split('\n')[0]}`);
  }
  if (tf.findBackendFactory('tensorflow') == null) {
    return failed(
      `loaded, but it registered 'tensorflow' on a different @tensorflow/tfjs-core copy ` + `(install the same version as @tensorflow/tfjs ${tf.version.tfjs} so npm dedupes it)`,
    );
  }
  if (!(await tf.setBackend('tensorflow'))) return failed('backend initialization failed');
  await tf.ready();
  return {
    info: {
      name: 'tensorflow',
      // libtensorflow sizes its own intra-op pool (one thread per core); the threads option is wasm-only.
      threads: os.cpus().length,
      description: `${pkg} (native libtensorflow${pkg.endsWith('-gpu') ? ', CUDA' : ''})`,
    },
  };
}

async function initCpu(): Promise<BackendInfo> {
  if (!(await tf.setBackend('cpu'))) throw new CaptionerError("backend 'cpu' failed to initialize");
  return { name: 'cpu', threads: 1, description: 'plain JS reference backend, ~20x slower than wasm' };
}

interface EmscriptenPThread {
  runningWorkers: { unref(): void }[];
  unusedWorkers: { unref(): void }[];
}

async function initWasm(wantedThreads: number): Promise<BackendInfo> {
  let threads = wantedThreads;
  if (threads > 1 && !existsSync(PTHREAD_WORKER_FILE)) {
    throw new CaptionerError(`wasm threads need ${PTHREAD_WORKER_FILE} (shipped in @captioner/tf/worker); it is missing`);
  }
  if (threads > MAX_WASM_THREADS) {
    process.stderr.write(`[tf] wasm supports at most ${MAX_WASM_THREADS} threads; using ${MAX_WASM_THREADS}\n`);
    threads = MAX_WASM_THREADS;
  }
  // Kernel patches go in before the backend starts so their setupFuncs run at initialization.
  registerWasmKernelPatches();
  if (tf.findBackend('wasm') == null) {
    // The .wasm binaries ship next to the package's node bundle; load them from disk, never the network.
    tfWasm.setWasmPaths(`${dirname(require.resolve('@tensorflow/tfjs-backend-wasm'))}/`);
    tfWasm.setThreadsCount(threads);
  }
  const ok = threads > 1 ? await withThreadedWasmShim(threads, () => tf.setBackend('wasm')) : await tf.setBackend('wasm');
  if (!ok) throw new CaptionerError("backend 'wasm' failed to initialize");
  await tf.ready();
  const actual = tfWasm.getThreadsCount();
  const module = (tf.backend() as tfWasm.BackendWasm).wasm as unknown as { PThread?: EmscriptenPThread };
  if (module.PThread) {
    // XNNPACK's pool threads stay parked in their workers; unref them so an idle process can exit.
    for (const worker of [...module.PThread.runningWorkers, ...module.PThread.unusedWorkers]) worker.unref();
  }
  const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
  const build = module.PThread ? 'threaded-SIMD' : simd ? 'SIMD' : 'plain';
  if (actual !== threads) {
    process.stderr.write(`[tf] wasm: asked for ${threads} threads, backend runs ${actual}\n`);
  }
  return { name: 'wasm', threads: actual, description: `tfjs-backend-wasm ${build} build (XNNPACK), patched kernels` };
}

/**
 * Start the wasm backend with real threads under Node. tfjs-backend-wasm disables threads in Node
 * (tfjs issue #3830) because its pthread workers are created from a blob: URL, which Node's
 * worker_threads cannot load, and XNNPACK caps its pool at half the reported cores. While the
 * backend starts we: enable the multithread flag, hand emscripten a real worker file instead of
 * the blob URL, and report at least 2 x threads cores. Everything is restored afterwards.
 */
async function withThreadedWasmShim<T>(threads: number, start: () => Promise<T>): Promise<T> {
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', true);
  const originalCreateObjectURL = URL.createObjectURL;
  const originalCpus = os.cpus;
  URL.createObjectURL = (obj: Blob) =>
    // The backend's only JavaScript Blob during start-up is the pthread worker script.
    obj instanceof Blob && obj.type === 'application/javascript' ? PTHREAD_WORKER_FILE : originalCreateObjectURL(obj);
  os.cpus = () => {
    const cpus = originalCpus();
    const padded = [...cpus];
    while (padded.length < 2 * threads) padded.push(cpus[padded.length % cpus.length]);
    return padded;
  };
  try {
    return await start();
  } finally {
    URL.createObjectURL = originalCreateObjectURL;
    os.cpus = originalCpus;
  }
}
