/**
 * The Node-only half of CaptionModel: saving and loading folders (io.ts) and choosing where decoding
 * runs (TF.js, or onnxruntime-node through native/). The Node entry (index.ts) registers it with
 * model.ts `registerNodeServices`, so the model file itself never imports these.
 */
import { tf } from '@captioner/tf';
import type { CaptionModel, EngineChoice, NodeServices } from './model.js';
import { tfjsStepEngine } from './decode.js';
import { loadModel, saveModel } from './io.js';
import { resolveTrainEngine } from './native/runtime.js';
import { nativeStepEngine } from './native/decode-engine.js';

/** See CaptionModel.useEngine. */
export async function useEngine(model: CaptionModel, engine: EngineChoice): Promise<'onnx' | 'tfjs'> {
  (model.stepEngine as { release?: () => void } | null)?.release?.();
  // Pinned, so Node's default (native) engine does not take over.
  model.stepEngine = tfjsStepEngine(model);
  if (engine === 'tfjs') return 'tfjs';
  if ((await resolveTrainEngine(engine, tf.getBackend())) !== 'onnx') return 'tfjs';
  model.stepEngine = await nativeStepEngine(model);
  return 'onnx';
}

export const nodeServices: NodeServices = { save: saveModel, load: loadModel, useEngine };
