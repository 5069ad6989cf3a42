import * as tf from '@tensorflow/tfjs';
import { unsortedSegmentSumWasm } from './unsorted-segment-sum.js';
import { withExplicitTranspose } from './matmul.js';

export { unsortedSegmentSumWasm } from './unsorted-segment-sum.js';
export { withExplicitTranspose } from './matmul.js';

/** Kernel names this package replaces or adds on the wasm backend. */
export const PATCHED_WASM_KERNELS = ['UnsortedSegmentSum', 'BatchMatMul', '_FusedMatMul'] as const;

let registered = false;

/** The wasm kernels as shipped, before patching (for benchmarks and tests). */
export const originalWasmKernels = new Map<string, tf.KernelConfig>();

/**
 * Install the wasm kernel fixes (idempotent). Call before the wasm backend initializes so the
 * wrapped kernels' setupFuncs run with it; initBackend does this.
 */
export function registerWasmKernelPatches(): void {
  if (registered) return;
  const transpose = tf.getKernel('Transpose', 'wasm');
  if (!transpose) throw new Error('@tensorflow/tfjs-backend-wasm kernels are not registered (import order?)');

  if (tf.getKernel('UnsortedSegmentSum', 'wasm')) tf.unregisterKernel('UnsortedSegmentSum', 'wasm');
  tf.registerKernel({ kernelName: 'UnsortedSegmentSum', backendName: 'wasm', kernelFunc: unsortedSegmentSumWasm });

  for (const kernelName of ['BatchMatMul', '_FusedMatMul']) {
    const original = tf.getKernel(kernelName, 'wasm');
    if (!original) throw new Error(`wasm kernel ${kernelName} is missing`);
    originalWasmKernels.set(kernelName, original);
    tf.unregisterKernel(kernelName, 'wasm');
    // Keep setupFunc/disposeFunc: they bind the original kernel to the wasm module.
    tf.registerKernel({
      ...original,
      // The fused kernel's bias/activation apply to C, so it may not compute C^T instead.
      kernelFunc: withExplicitTranspose(original.kernelFunc, transpose.kernelFunc, { allowSwap: kernelName === 'BatchMatMul' }),
    });
  }
  registered = true;
}
