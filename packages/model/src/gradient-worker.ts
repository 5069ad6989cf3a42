/**
 * A data-parallel replica (worker thread): its own TF.js backend and CaptionModel. Each `step`
 * message brings the current weights and a slice of the batch; it answers with the slice's
 * token-weighted gradient sums (see data-parallel.ts). Not part of the public API.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { initBackend, tf } from '@captioner/tf';
import { CaptionModel, type CaptionModelConfig } from './model.js';
import { accumulateGradients } from './train-step.js';
import type { ReplicaInit, ReplicaReply, ReplicaStep } from './data-parallel.js';

const port = parentPort!;
const init = workerData as ReplicaInit;

async function main(): Promise<void> {
  await initBackend({ backend: init.backend, threads: init.threads, quiet: true });
  const model = CaptionModel.create(init.config as CaptionModelConfig, 0);
  port.on('message', (msg: ReplicaStep) => {
    try {
      tf.tidy(() => model.variables.forEach((v, i) => v.assign(tf.tensor(msg.weights[i], v.shape, 'float32'))));
      const features = tf.tensor3d(msg.features, msg.featureShape, 'float32');
      const tokens = tf.tensor2d(msg.tokens, msg.tokenShape, 'int32');
      const g = accumulateGradients(model, features, tokens, { microBatch: msg.microBatch, attentionPenalty: msg.attentionPenalty });
      tf.dispose([features, tokens]);
      // Copies out of the wasm heap (a view's buffer would be the whole heap), then transferred.
      const grads = g.grads.map((t) => new Float32Array(t.dataSync() as Float32Array));
      tf.dispose(g.grads);
      const reply: ReplicaReply = { ok: true, grads, isMean: g.isMean, lossSum: g.lossSum, tokens: g.tokens };
      port.postMessage(reply, grads.map((a) => a.buffer as ArrayBuffer));
    } catch (error) {
      const reply: ReplicaReply = { ok: false, message: error instanceof Error ? (error.stack ?? error.message) : String(error) };
      port.postMessage(reply);
    }
  });
  port.postMessage({ ready: true, backend: tf.getBackend() });
}

main().catch((error) => port.postMessage({ ready: false, message: error instanceof Error ? (error.stack ?? error.message) : String(error) }));
