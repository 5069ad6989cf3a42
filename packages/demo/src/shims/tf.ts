/**
 * @captioner/tf for the page: the same TF.js core the Node packages use, with the wasm backend (and
 * cpu as a fallback) and the repo's wasm kernel patches (exact transposes in front of XNNPACK), so
 * the page computes what Node's wasm backend computes. Only tfjs-core is bundled: inference needs
 * no layers/converter code.
 */
import * as tfc from '@tensorflow/tfjs-core';
// Tensor methods (x.reshape(), x.asType() …) the model code chains; the umbrella package registers them.
import '@tensorflow/tfjs-core/dist/public/chained_ops/register_all_chained_ops';
import '@tensorflow/tfjs-backend-cpu';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { registerWasmKernelPatches } from '../../../tf/src/kernels/index.js';

export const tf = tfc;

/** wasm from `wasmDir` (served beside the page, never a CDN); cpu if wasm cannot start. */
export async function initBrowserBackend(wasmDir: string): Promise<string> {
  setWasmPaths(wasmDir);
  registerWasmKernelPatches();
  try {
    if (await tfc.setBackend('wasm')) {
      await tfc.ready();
      return 'wasm';
    }
  } catch {
    // fall through to cpu
  }
  await tfc.setBackend('cpu');
  return 'cpu';
}
