/**
 * The single entry point to TF.js for every Captioner package: one @tensorflow/tfjs-core
 * instance, one backend choice (see README.md).
 */
export * as tf from '@tensorflow/tfjs';
export {
  initBackend,
  shutdownBackend,
  currentBackend,
  resolveBackendRequest,
  BACKEND_CHOICES,
  MAX_WASM_THREADS,
  type BackendChoice,
  type BackendInfo,
  type InitBackendOptions,
} from './backend.js';
export { registerWasmKernelPatches, PATCHED_WASM_KERNELS } from './kernels/index.js';
