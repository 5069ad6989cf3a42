/**
 * The decoder step on onnxruntime-node, behind decode.ts's StepEngine seam: an encode graph
 * (encoder + attention keys, rows repeated for beams) and a step graph (attention, GRU, fc1, fc2,
 * log-softmax with <pad>/<sos> banned), both with the model's current weights baked in as
 * initializers, so onnxruntime folds the derived weights ([Wh | 2W2], 2W1, …) once and prepacks
 * the matMuls. The sessions are rebuilt when the model's variables change (after training steps).
 */
import { attr, encodeModel, floatTensor as onnxFloat } from '@captioner/onnx';
import { tf } from '@captioner/tf';
import type { CaptionModel } from '../model.js';
import { bannedTokens, repeatIndex, type StepEngine, type StepSession } from '../decode.js';
import { I64, OPSET, Ops } from './ops.js';
import { floatTensor, int64Tensor, loadNative, loadNativeSync, type NativeOptions, type NativeRuntime, type SyncSession } from './runtime.js';

type Weights = Record<string, string>;

/** Declares every parameter as an initializer holding its current value. */
function bakeWeights(o: Ops, model: CaptionModel, names: string[]): Weights {
  const w: Weights = {};
  for (const name of names) {
    const v = model.variables[model.parameterNames.indexOf(name)];
    w[name] = o.g.initializer(onnxFloat(name, v.shape, v.dataSync() as Float32Array));
  }
  return w;
}

function encodeGraph(model: CaptionModel): Uint8Array {
  const { locations: L, featureDim: D, embeddingDim: E, attentionUnits: A } = model.config;
  const o = new Ops('caption_encode');
  const w = bakeWeights(o, model, ['encoder/kernel', 'encoder/bias', 'attention/W1/kernel', 'attention/W1/bias']);
  const features = o.input('features', ['B', L, D]);
  const rows = o.input('rows', ['R'], I64);
  const B = o.dim(features, 0);
  const enc2d = o.relu(o.gemm(o.reshape(features, [-1, D]), w['encoder/kernel'], w['encoder/bias']));
  const two = o.f(2);
  const keys = o.gemm(enc2d, o.mul(w['attention/W1/kernel'], two), o.mul(w['attention/W1/bias'], two));
  o.g.node('Gather', [o.reshape(enc2d, o.shapeOf([B, L, E])), rows], [attr.int('axis', 0)], { output: 'encoded' });
  o.g.node('Gather', [o.reshape(keys, o.shapeOf([B, L, A])), rows], [attr.int('axis', 0)], { output: 'keys' });
  o.output('encoded', ['R', L, E]);
  o.output('keys', ['R', L, A]);
  return encodeModel({ graph: o.g.build(), opsets: [{ domain: '', version: OPSET }], producerName: '@captioner/model' });
}

function stepGraph(model: CaptionModel): Uint8Array {
  const { vocabSize: V, locations: L, embeddingDim: E, units: U, attentionUnits: A } = model.config;
  const o = new Ops('caption_step');
  const w = bakeWeights(o, model, [
    'attention/W2/kernel',
    'attention/W2/bias',
    'attention/V/kernel',
    'embedding/embeddings',
    'gru/kernel',
    'gru/recurrent_kernel',
    'gru/bias',
    'fc1/kernel',
    'fc1/bias',
    'fc2/kernel',
    'fc2/bias',
  ]);
  const encoded = o.input('encoded', ['R', L, E]);
  const keys = o.input('keys', ['R', L, A]);
  const prev = o.input('prev_tokens', ['R'], I64);
  const h = o.input('hidden', ['R', U]);
  const banned = o.input('banned', [V]);
  const invTemperature = o.input('inv_temperature', []);
  const two = o.f(2);
  const [bx, bh] = o.split(w['gru/bias'], [1, 1], 0).map((b) => o.reshape(b, [3 * U]));
  // As CaptionModel.step: [h·Wh + bh | h·2W2 + 2b2] in one product, sigmoid-domain attention.
  const hq = o.gemm(h, o.concat([w['gru/recurrent_kernel'], o.mul(w['attention/W2/kernel'], two)], 1), o.concat([bh, o.mul(w['attention/W2/bias'], two)], 0));
  const [hg, q] = o.split(hq, [3 * U, A], 1);
  const squashed = o.sigmoid(o.add(keys, o.unsqueeze(q, [1])));
  const alpha = o.softmax(o.squeeze(o.matmul(squashed, o.mul(w['attention/V/kernel'], two)), [2]), 1);
  o.identity(alpha, 'attention');
  const context = o.squeeze(o.matmul(o.unsqueeze(alpha, [1]), encoded), [1]);
  const embedded = o.gather(w['embedding/embeddings'], prev);
  const xg = o.gemm(o.concat([context, embedded], 1), w['gru/kernel'], bx);
  const [xz, xr, xn] = o.split(xg, [U, U, U], 1);
  const [hz, hr, hn] = o.split(hg, [U, U, U], 1);
  const z = o.sigmoid(o.add(xz, hz));
  const r = o.sigmoid(o.add(xr, hr));
  const n = o.tanh(o.add(xn, o.mul(r, hn)));
  const hNext = o.add(n, o.mul(z, o.sub(h, n)), 'hidden_next');
  const logits = o.gemm(o.gemm(hNext, w['fc1/kernel'], w['fc1/bias']), w['fc2/kernel'], w['fc2/bias']);
  o.g.node('LogSoftmax', [o.add(o.mul(logits, invTemperature), banned)], [attr.int('axis', 1)], { output: 'log_probs' });
  o.output('log_probs', ['R', V]);
  o.output('hidden_next', ['R', U]);
  o.output('attention', ['R', L]);
  return encodeModel({ graph: o.g.build(), opsets: [{ domain: '', version: OPSET }], producerName: '@captioner/model' });
}

/**
 * A StepEngine on onnxruntime-node for `model` (decode.ts loops run unchanged on it). Attach it
 * with `model.stepEngine = await nativeStepEngine(model)` or pass it as DecodeOptions.engine.
 */
export async function nativeStepEngine(model: CaptionModel, opts: NativeOptions = {}): Promise<NativeStepEngine> {
  return createNativeStepEngine(await loadNative(), model, opts);
}

export type NativeStepEngine = StepEngine & { release(): void };

/** nativeStepEngine with an already loaded runtime (synchronous). */
export function createNativeStepEngine(runtime: NativeRuntime, model: CaptionModel, opts: NativeOptions = {}): NativeStepEngine {
  const ort = runtime.ort;
  let built: { ids: object[]; encode: SyncSession; step: SyncSession } | null = null;
  const sessions = () => {
    const ids = model.variables.map((v) => v.dataId);
    if (built && built.ids.every((id, i) => id === ids[i])) return built;
    built?.encode.release();
    built?.step.release();
    built = { ids, encode: runtime.createSession(encodeGraph(model), opts), step: runtime.createSession(stepGraph(model), opts) };
    return built;
  };
  const { vocabSize: V, locations: L, embeddingDim: E, units: U, attentionUnits: A } = model.config;
  return {
    name: 'onnx',
    start(features: tf.Tensor3D, copies: number): StepSession {
      const s = sessions();
      const B = features.shape[0];
      const R = B * copies;
      const enc = s.encode.run({
        features: floatTensor(ort, features.dataSync() as Float32Array, features.shape),
        rows: int64Tensor(ort, repeatIndex(B, copies), [R]),
      });
      const encoded = floatTensor(ort, enc.encoded.data as Float32Array, [R, L, E]);
      const keys = floatTensor(ort, enc.keys.data as Float32Array, [R, L, A]);
      let hidden: Float32Array = new Float32Array(R * U);
      let banned: { startId: number; tensor: ReturnType<typeof floatTensor> } | null = null;
      return {
        step(prevTokens, startId, temperature) {
          if (banned?.startId !== startId) banned = { startId, tensor: floatTensor(ort, bannedTokens(V, startId), [V]) };
          const out = s.step.run({
            encoded,
            keys,
            prev_tokens: int64Tensor(ort, prevTokens, [R]),
            hidden: floatTensor(ort, hidden, [R, U]),
            banned: banned.tensor,
            inv_temperature: floatTensor(ort, Float32Array.of(1 / temperature), []),
          });
          hidden = out.hidden_next.data as Float32Array;
          return { logProbs: out.log_probs.data as Float32Array, attention: out.attention.data as Float32Array };
        },
        reorder(parents) {
          const next = new Float32Array(R * U);
          parents.forEach((p, i) => next.set(hidden.subarray(p * U, (p + 1) * U), i * U));
          hidden = next;
        },
        dispose() {},
      };
    },
    release() {
      built?.encode.release();
      built?.step.release();
      built = null;
    },
  };
}

/**
 * The default decode engine of engine 'auto' in Node: native when onnxruntime-node loads and the
 * TF.js backend is not tfjs-node, unless CAPTIONER_DECODE_ENGINE=tfjs. Registered by index.ts.
 */
export function autoNativeStepEngine(model: CaptionModel): NativeStepEngine | null {
  if (process.env.CAPTIONER_DECODE_ENGINE === 'tfjs' || tf.getBackend() === 'tensorflow') return null;
  const runtime = loadNativeSync();
  return runtime ? createNativeStepEngine(runtime, model) : null;
}
