/**
 * The fast path beside the readable model (model.ts): the same loss, forward and hand-derived
 * backward, laid out for tfjs-wasm, and the cached weight rearrangements the TF.js decoding step
 * uses. model.ts `captionLoss` is the plain formulation; tests check this file's gradients against
 * TF.js autodiff of it and against finite differences (model.test.ts).
 *
 * Layout: everything that does not depend on h_{t-1} runs once per batch as a large matMul (encoder,
 * enc·W1, all embeddings and their GRU input projection, the output layers and the cross-entropy over
 * every non-pad position); the per-step loop holds only the attention and the GRU (one fused matMul
 * h·[Wh | 2W2] for the recurrent gates and the attention query); the attention and GRU backward are
 * JS loops over the wasm heap; per-step parameter gradients are stacked and reduced with one matMul
 * after the loop.
 *
 * Attention runs in the sigmoid domain: tanh(u) = 2σ(2u) − 1, so V·tanh(u) = 2V·σ(2u) − ΣV, and the
 * constant cancels in the softmax over locations; σ is a fast XNNPACK kernel on wasm where tanh is
 * ~7x slower. Hence the derived weights 2W1, 2b1, 2W2, 2b2, 2V.
 *
 * This file imports nothing from model.ts (model.ts imports it): weights come in by parameter name,
 * sizes from their shapes.
 */
import { tf } from '@captioner/tf';
import { valuesOf } from './values.js';
import { phase } from './profile.js';
import { checkTokenRange, layoutBatch, validRowMask } from './batch.js';

/** Rearrangements of the parameters, rebuilt when a source variable changes (see DerivedWeightsCache). */
export type DerivedWeights = {
  /** [Wh | 2W2]: [U, 3U + A], the recurrent gates and the attention query in one product. */
  recurrent: tf.Tensor2D;
  /** [bh | 2b2]: [3U + A]. */
  recurrentBias: tf.Tensor1D;
  /** 2W1 [E, A], 2b1 [A]: the per-image half of the sigmoid-domain score. */
  keysKernel: tf.Tensor2D;
  keysBias: tf.Tensor1D;
  /** 2V [A, 1]. */
  v2: tf.Tensor2D;
  /** bx: [3U], the GRU input bias (row 0 of gru/bias). */
  inputBias: tf.Tensor1D;
  /** gru/kernel split by input rows: context [E, 3U], embedding [E, 3U]. */
  kernelContext: tf.Tensor2D;
  kernelEmbedding: tf.Tensor2D;
};

const DERIVED_SOURCES = [
  'gru/recurrent_kernel',
  'gru/kernel',
  'gru/bias',
  'attention/W1/kernel',
  'attention/W1/bias',
  'attention/W2/kernel',
  'attention/W2/bias',
  'attention/V/kernel',
];

/**
 * The derived weights of one model, rebuilt only when a source variable changes (an optimizer update
 * assigns new data). Besides saving the copies, this keeps their tensor ids stable, which lets
 * tfjs-wasm reuse its packed XNNPACK matMul operators across decoding steps.
 */
export class DerivedWeightsCache {
  private cached: { key: object[]; weights: DerivedWeights } | null = null;

  get(w: tf.NamedTensorMap): DerivedWeights {
    const key = DERIVED_SOURCES.map((n) => w[n].dataId);
    if (this.cached && this.cached.key.every((id, i) => id === key[i])) return this.cached.weights;
    this.dispose();
    const weights: DerivedWeights = tf.tidy(() => {
      const width = (w['gru/bias'] as tf.Tensor2D).shape[1]; // 3U
      const gruBias = w['gru/bias'].reshape([-1]);
      // Rank-1 slices of the flat bias: tfjs-wasm's fused matMul rejects a bias whose data is rank 2.
      const inputBias = gruBias.slice(0, width) as tf.Tensor1D;
      const hiddenBias = gruBias.slice(width, width) as tf.Tensor1D;
      const [kernelContext, kernelEmbedding] = tf.split(w['gru/kernel'], 2, 0) as [tf.Tensor2D, tf.Tensor2D];
      return {
        recurrent: tf.concat([w['gru/recurrent_kernel'], w['attention/W2/kernel'].mul(2)], 1) as tf.Tensor2D,
        recurrentBias: tf.concat([hiddenBias, w['attention/W2/bias'].mul(2)]) as tf.Tensor1D,
        keysKernel: w['attention/W1/kernel'].mul(2) as tf.Tensor2D,
        keysBias: w['attention/W1/bias'].mul(2) as tf.Tensor1D,
        v2: w['attention/V/kernel'].mul(2) as tf.Tensor2D,
        inputBias,
        kernelContext,
        kernelEmbedding,
      };
    });
    Object.values(weights).forEach((t) => tf.keep(t));
    this.cached = { key, weights };
    return weights;
  }

  dispose(): void {
    if (this.cached) tf.dispose(Object.values(this.cached.weights));
    this.cached = null;
  }
}

/** Vocabulary V, embedding E, GRU units U and attention units A, from the parameter shapes. */
function sizesOf(w: tf.NamedTensorMap) {
  const shape = (name: string) => (w[name] as tf.Tensor2D).shape;
  return { V: shape('fc2/kernel')[1], E: shape('encoder/kernel')[1], U: shape('gru/recurrent_kernel')[0], A: shape('attention/W1/kernel')[1] };
}

/** The step-independent half of the sigmoid-domain score, once per image: 2·(enc·W1 + b1), [B, L, E] → [B, L, A]. */
export function attentionKeys(encoded: tf.Tensor3D, d: DerivedWeights): tf.Tensor3D {
  const [B, L, E] = encoded.shape;
  const A = d.keysKernel.shape[1];
  return tf.tidy(() => tf.fused.matMul({ a: encoded.reshape([B * L, E]), b: d.keysKernel, bias: d.keysBias }).reshape([B, L, A]));
}

/** Bahdanau attention in the sigmoid domain; `keys` from attentionKeys, `query` = 2·(h·W2 + b2). */
export function sigmoidAttention(keys: tf.Tensor3D, encoded: tf.Tensor3D, query: tf.Tensor2D, v2: tf.Tensor2D) {
  const [B, L, A] = keys.shape;
  const squashed = tf.sigmoid(tf.add(keys, query.reshape([B, 1, A]))) as tf.Tensor3D; // [B, L, A]
  const scores = tf.matMul(squashed.reshape([B * L, A]), v2).reshape([B, L]); // [B, L]
  const weights = tf.softmax(scores) as tf.Tensor2D; // [B, L]
  const context = tf.matMul(weights.reshape([B, 1, L]), encoded).reshape([B, encoded.shape[2]]) as tf.Tensor2D; // [B, E]
  return { context, weights, squashed };
}

/**
 * The GRU cell of model.ts (`gruCell`, Keras reset_after=True), repeated here with the gates the
 * backward needs: z = σ(xz + hz), r = σ(xr + hr), n = tanh(xn + r ⊙ hn), h' = n + z ⊙ (h − n).
 */
function gruForward(xg: tf.Tensor2D, hg: tf.Tensor2D, h: tf.Tensor2D) {
  const [xz, xr, xn] = tf.split(xg, 3, 1);
  const [hz, hr, hn] = tf.split(hg, 3, 1) as tf.Tensor2D[];
  const z = tf.sigmoid(tf.add(xz, hz)) as tf.Tensor2D;
  const r = tf.sigmoid(tf.add(xr, hr)) as tf.Tensor2D;
  const n = tf.tanh(tf.add(xn, tf.mul(r, hn))) as tf.Tensor2D;
  const hNext = tf.add(n, tf.mul(z, tf.sub(h, n))) as tf.Tensor2D;
  return { h: hNext, z, r, n, hn };
}

/** What the backward pass needs from one decoder step. */
interface StepRecord {
  hPrev: tf.Tensor2D;
  context: tf.Tensor2D;
  weights: tf.Tensor2D;
  squashed: tf.Tensor3D;
  z: tf.Tensor2D;
  r: tf.Tensor2D;
  n: tf.Tensor2D;
  hn: tf.Tensor2D;
}

export interface FusedLossOptions {
  attentionPenalty?: number;
  /** [B, T−1, U] dropout multipliers on what fc1 reads (length checked by the caller). */
  dropoutMask?: Float32Array;
}

/**
 * The masked cross-entropy + attention penalty of model.ts `captionLoss`, and with `withGradients`
 * its gradient for every parameter (by name), without autodiff. Inputs are checked by the caller
 * (shapes; token ids here). Call inside tf.tidy.
 */
export function forwardBackward(
  w: tf.NamedTensorMap,
  derived: DerivedWeights,
  features: tf.Tensor3D,
  tokens: tf.Tensor2D,
  opts: FusedLossOptions,
  withGradients: boolean,
): { loss: tf.Scalar; grads?: tf.NamedTensorMap; tokens: number } {
  const [B, L, D] = features.shape;
  const { V, E, U, A } = sizesOf(w);
  const layout = layoutBatch(tokens.dataSync() as Int32Array, B, tokens.shape[1]);
  checkTokenRange(layout.inputIds, V);
  checkTokenRange(layout.targets, V);
  const S = layout.steps;
  const N = layout.validRows.length;
  const penalty = opts.attentionPenalty ?? 0;
  const T1 = tokens.shape[1] - 1;
  if (N === 0) {
    const zeros = withGradients ? Object.fromEntries(Object.entries(w).map(([name, v]) => [name, tf.zerosLike(v)])) : undefined;
    return { loss: tf.scalar(0), grads: zeros, tokens: 0 };
  }

  // ---- once per batch: encoder, attention keys, recurrent weights, embeddings of every step
  phase('forward: encoder, keys, embeddings');
  const features2d = features.reshape([B * L, D]) as tf.Tensor2D;
  const enc2d = tf.fused.matMul({ a: features2d, b: w['encoder/kernel'], bias: w['encoder/bias'], activation: 'relu' }) as tf.Tensor2D; // [B·L, E]
  const encoded = enc2d.reshape([B, L, E]) as tf.Tensor3D;
  const { keysKernel, keysBias, v2, recurrent, recurrentBias, inputBias, kernelContext, kernelEmbedding } = derived;
  const keys = tf.fused.matMul({ a: enc2d, b: keysKernel, bias: keysBias }).reshape([B, L, A]) as tf.Tensor3D;
  const embedded = tf.gather(w['embedding/embeddings'], tf.tensor1d(layout.inputIds, 'int32')) as tf.Tensor2D; // [S·B, E]
  const xEmbedded = splitRows(tf.fused.matMul({ a: embedded, b: kernelEmbedding, bias: inputBias }) as tf.Tensor2D, S); // S × [B, 3U]

  // ---- the recurrence: attention + GRU only
  const records: StepRecord[] = [];
  const hs: tf.Tensor2D[] = [];
  let h: tf.Tensor2D = tf.zeros([B, U]);
  for (let t = 0; t < S; t++) {
    phase('forward step: h·[Wh|2W2]');
    const hq = tf.fused.matMul({ a: h, b: recurrent, bias: recurrentBias }); // [B, 3U + A]
    const [hg, q] = tf.split(hq, [3 * U, A], 1) as [tf.Tensor2D, tf.Tensor2D];
    phase('forward step: attention');
    const attn = sigmoidAttention(keys, encoded, q, v2);
    phase('forward step: GRU');
    const xg = tf.add(tf.matMul(attn.context, kernelContext), xEmbedded[t]) as tf.Tensor2D; // [B, 3U]
    const gru = gruForward(xg, hg, h);
    records.push({ hPrev: h, context: attn.context, weights: attn.weights, squashed: attn.squashed, z: gru.z, r: gru.r, n: gru.n, hn: gru.hn });
    hs.push(gru.h);
    h = gru.h;
  }

  // ---- output layers and cross-entropy for all non-pad positions (with their backward)
  phase('output layers, cross-entropy (forward + backward)');
  const allRows = N === S * B;
  const hValid = (allRows ? tf.concat(hs, 0) : tf.gather(tf.concat(hs, 0), tf.tensor1d(layout.validRows, 'int32'))) as tf.Tensor2D; // [N, U]
  // Dropout on what fc1 reads: hDrop = hValid ⊙ m, m = keep/(1−p) per (caption, step, unit).
  const dropMask = opts.dropoutMask ? tf.tensor2d(validRowMask(opts.dropoutMask, layout.validRows, B, T1, U), [N, U]) : null;
  const hDrop = dropMask ? (tf.mul(hValid, dropMask) as tf.Tensor2D) : hValid;
  const o1 = tf.fused.matMul({ a: hDrop, b: w['fc1/kernel'], bias: w['fc1/bias'] }) as tf.Tensor2D; // [N, U]
  const out = outputLayer(w, o1, layout.targets, withGradients);
  let total: tf.Tensor = out.nll;
  let coverageGap: tf.Tensor2D | null = null; // Σ_t α_tl − 1 over non-pad steps, rows with targets only
  if (penalty > 0) {
    let coverage: tf.Tensor = tf.zeros([B, L]);
    for (let t = 0; t < S; t++) {
      const m = tf.tensor2d(layout.mask.subarray(t * B, (t + 1) * B), [B, 1]);
      coverage = tf.add(coverage, tf.mul(records[t].weights, m));
    }
    coverageGap = tf.mul(tf.sub(coverage, 1), tf.tensor2d(layout.hasTarget, [B, 1])) as tf.Tensor2D;
    total = tf.add(total, tf.mul(penalty, tf.sum(tf.square(coverageGap))));
  }
  const loss = tf.div(total, N) as tf.Scalar;
  if (!withGradients) {
    phase(null);
    return { loss, tokens: N };
  }

  // ================================================================ backward
  // dlogits = (softmax − onehot)/N: outputLayer returned the products of (softmax − onehot); scale them.
  const scale = 1 / N;
  const dFc2 = out.dFc2!.mul(scale);
  const dFc2Bias = out.dFc2Bias!.mul(scale);
  const dO1 = out.dO1!.mul(scale) as tf.Tensor2D;
  const dFc1 = matMulTN(hDrop, dO1);
  const dFc1Bias = columnSum(dO1);
  const dHDrop = tf.matMul(dO1, transpose2d(w['fc1/kernel'])) as tf.Tensor2D;
  const dHValid = dropMask ? (tf.mul(dHDrop, dropMask) as tf.Tensor2D) : dHDrop;
  let dHs: tf.Tensor2D[];
  if (allRows) dHs = splitRows(dHValid, S);
  else {
    // Scatter back to time-major rows; pad rows point at an appended zero row.
    const source = new Int32Array(S * B).fill(N);
    layout.validRows.forEach((r, i) => (source[r] = i));
    const padded = tf.concat([dHValid, tf.zeros([1, U])], 0);
    dHs = splitRows(tf.gather(padded, tf.tensor1d(source, 'int32')) as tf.Tensor2D, S);
  }

  // Penalty: d/dα_btl of (λ/N)·Σ(Σ_t α − 1)² = (2λ/N)·gap_bl on non-pad steps.
  const gapValues = coverageGap ? coverageGap.mul(2 * penalty * scale).dataSync() : null;

  phase('backward: BPTT setup');
  const acc = {
    keys: new Float32Array(B * L * A),
    v2: new Float32Array(A),
    encoded: new Float32Array(B * L * E),
  };
  const kernelContextT = transpose2d(kernelContext);
  const recurrentT = transpose2d(recurrent);
  const dXgs: tf.Tensor2D[] = new Array(S);
  const dHqs: tf.Tensor2D[] = new Array(S);
  let dhNext: tf.Tensor2D | null = null;
  for (let t = S - 1; t >= 0; t--) {
    const rec = records[t];
    phase('backward step: GRU (JS)');
    const dh = (dhNext ? tf.add(dHs[t], dhNext) : dHs[t]) as tf.Tensor2D;
    const g = gruCellBackward(dh, rec);
    phase('backward step: dContext matMul');
    const dContext = tf.matMul(g.dXg, kernelContextT) as tf.Tensor2D;
    phase('backward step: attention (JS)');
    const dq = attentionBackward(rec, encoded, v2, dContext, gapValues, layout.mask.subarray(t * B, (t + 1) * B), acc);
    phase('backward step: dh matMul');
    dXgs[t] = g.dXg;
    dHqs[t] = tf.concat([g.dHg, dq], 1);
    dhNext = tf.add(g.dhDirect, tf.matMul(dHqs[t], recurrentT)) as tf.Tensor2D;
  }

  // ---- per-step gradients reduced with one matMul each
  phase('backward: GRU/attention weight gradients');
  // A ones column makes the last row of each product the bias gradient.
  const ones = tf.ones([S * B, 1]);
  const dXgAll = tf.concat(dXgs, 0) as tf.Tensor2D;
  const dHqAll = tf.concat(dHqs, 0) as tf.Tensor2D;
  const contexts = tf.concat(
    records.map((r) => r.context),
    0,
  );
  const previousStates = tf.concat(
    records.map((r) => r.hPrev),
    0,
  );
  // [context, embedding, 1]ᵀ·dXg = [dKernel (context rows, then embedding rows); dInputBias]
  const [dKernel, dInputBias] = rowChunks(matMulTN(tf.concat([contexts, embedded, ones], 1) as tf.Tensor2D, dXgAll), 2 * E);
  // [h_{t-1}, 1]ᵀ·dHq = [dWh | 2·dW2; dbh | 2·db2]
  const [dRecurrentAll, dRecurrentBias] = rowChunks(matMulTN(tf.concat([previousStates, ones], 1) as tf.Tensor2D, dHqAll), U);
  const [dRecurrent, dW2x2] = tf.split(dRecurrentAll, [3 * U, A], 1);
  const [dHiddenBias, dB2x2] = tf.split(dRecurrentBias.reshape([3 * U + A]), [3 * U, A]);
  const dGruBias = tf.stack([dInputBias.reshape([3 * U]), dHiddenBias]);
  const dEmbedded = tf.matMul(dXgAll, transpose2d(kernelEmbedding)) as tf.Tensor2D;
  const dEmbeddings = scatterAddRows(dEmbedded, layout.inputIds, V);

  phase('backward: attention keys, encoder');
  const dKeys = tf.mul(tf.tensor2d(acc.keys, [B * L, A]), tf.reshape(v2, [1, A])) as tf.Tensor2D;
  const dW1 = matMulTN(enc2d, dKeys).mul(2);
  const dB1 = columnSum(dKeys).mul(2);
  const dV = tf.tensor2d(acc.v2, [A, 1]).mul(2);
  const dEncoded = tf.add(tf.tensor2d(acc.encoded, [B * L, E]), tf.matMul(dKeys, transpose2d(keysKernel)));
  const dEncoderPre = tf.mul(dEncoded, tf.step(enc2d)) as tf.Tensor2D;
  const dEncoder = matMulTN(features2d, dEncoderPre);
  const dEncoderBias = columnSum(dEncoderPre);

  phase(null);
  const grads: tf.NamedTensorMap = {
    'encoder/kernel': dEncoder,
    'encoder/bias': dEncoderBias,
    'attention/W1/kernel': dW1,
    'attention/W1/bias': dB1,
    'attention/W2/kernel': dW2x2.mul(2),
    'attention/W2/bias': dB2x2.mul(2),
    'attention/V/kernel': dV,
    'embedding/embeddings': dEmbeddings,
    'gru/kernel': dKernel,
    'gru/recurrent_kernel': dRecurrent,
    'gru/bias': dGruBias,
    'fc1/kernel': dFc1,
    'fc1/bias': dFc1Bias,
    'fc2/kernel': dFc2,
    'fc2/bias': dFc2Bias,
  };
  return { loss, grads, tokens: N };
}

/**
 * fc2 and the cross-entropy over all rows of o1 = fc1(h) at once (one [N, U]·[U, V] matMul).
 * Returns Σ −log p(target) and, with gradients, the unscaled products of
 * dlogits = softmax − onehot. (Blocks of rows were tried: smaller matMuls made it ~1.5x slower.)
 */
function outputLayer(w: tf.NamedTensorMap, o1: tf.Tensor2D, targets: Int32Array, withGradients: boolean) {
  const [N, U] = o1.shape;
  const V = (w['fc2/kernel'] as tf.Tensor2D).shape[1];
  const flat = new Int32Array(N);
  const pairs = new Int32Array(2 * N);
  for (let i = 0; i < N; i++) {
    flat[i] = i * V + targets[i];
    pairs[2 * i] = i;
    pairs[2 * i + 1] = targets[i];
  }
  const probs = tf.softmax(tf.fused.matMul({ a: o1, b: w['fc2/kernel'], bias: w['fc2/bias'] })); // [N, V]
  const pTarget = tf.gather(probs.reshape([N * V]), tf.tensor1d(flat, 'int32')); // [N]
  // p underflows to 0 only for logit gaps > ~87; the clamp keeps the loss finite there.
  const nll = tf.neg(tf.sum(tf.log(tf.maximum(pTarget, 1e-38))));
  if (!withGradients) return { nll };
  const dLogits = tf.tensorScatterUpdate(probs, tf.tensor2d(pairs, [N, 2], 'int32'), tf.sub(pTarget, 1)) as tf.Tensor2D;
  // [o1 | 1]ᵀ·dLogits: the kernel gradient and, in its last row, the bias gradient.
  const withOnes = tf.concat([o1, tf.ones([N, 1])], 1) as tf.Tensor2D;
  const [dFc2, dFc2Bias] = rowChunks(matMulTN(withOnes, dLogits), U);
  const dO1 = tf.matMul(dLogits, transpose2d(w['fc2/kernel'])) as tf.Tensor2D;
  return { nll, dFc2, dFc2Bias: dFc2Bias.reshape([V]) as tf.Tensor1D, dO1 };
}

/**
 * Backward of gruForward for one step, elementwise in one JS loop:
 *   dz = dh'⊙(h − n),  dn = dh'⊙(1 − z),  dan = dn⊙(1 − n²),  daz = dz⊙z(1 − z),
 *   dar = dan⊙hn⊙r(1 − r);  dXg = [daz, dar, dan],  dHg = [daz, dar, dan⊙r],  dh = dh'⊙z (+ dHg·Whᵀ by the caller)
 */
function gruCellBackward(dh: tf.Tensor2D, rec: StepRecord) {
  const [B, U] = dh.shape;
  const dXg = new Float32Array(B * 3 * U);
  const dHg = new Float32Array(B * 3 * U);
  const dDirect = new Float32Array(B * U);
  {
    const d = valuesOf(dh),
      z = valuesOf(rec.z),
      r = valuesOf(rec.r),
      n = valuesOf(rec.n);
    const hn = valuesOf(rec.hn),
      hp = valuesOf(rec.hPrev);
    for (let b = 0; b < B; b++) {
      const row = b * U;
      const gate = b * 3 * U;
      for (let u = 0; u < U; u++) {
        const i = row + u;
        const zi = z[i],
          ri = r[i],
          ni = n[i],
          di = d[i];
        const daz = di * (hp[i] - ni) * zi * (1 - zi);
        const dan = di * (1 - zi) * (1 - ni * ni);
        const dar = dan * hn[i] * ri * (1 - ri);
        dXg[gate + u] = daz;
        dXg[gate + U + u] = dar;
        dXg[gate + 2 * U + u] = dan;
        dHg[gate + u] = daz;
        dHg[gate + U + u] = dar;
        dHg[gate + 2 * U + u] = dan * ri;
        dDirect[i] = di * zi;
      }
    }
  }
  return {
    dXg: tf.tensor2d(dXg, [B, 3 * U]),
    dHg: tf.tensor2d(dHg, [B, 3 * U]),
    dhDirect: tf.tensor2d(dDirect, [B, U]),
  };
}

/**
 * Backward of one attention step, fused in JS loops over the wasm heap (tfjs would need ~8 full
 * [B, L, A] passes). With s = σ(pre), pre = keys + query (sigmoid domain, see attentionKeys):
 *   dα_l = dc·enc_l (+ penalty),  de = α ⊙ (dα − Σ α⊙dα),  dpre = v2 ⊙ de·s(1 − s)
 * returns dquery = Σ_l dpre and accumulates Σ_t de·s(1 − s) (dkeys before the v2 factor, applied
 * once after the loop), dv2 += Σ de·s and denc += α ⊗ dc.
 */
function attentionBackward(
  rec: StepRecord,
  encoded: tf.Tensor3D,
  v2: tf.Tensor2D,
  dContext: tf.Tensor2D,
  gap: Float32Array | Uint8Array | Int32Array | null,
  stepMask: Float32Array,
  acc: { keys: Float32Array; v2: Float32Array; encoded: Float32Array },
): tf.Tensor2D {
  const [B, L, A] = rec.squashed.shape;
  const E = encoded.shape[2];
  const dQuery = new Float32Array(B * A);
  const dAlpha = new Float64Array(L);
  const queryRow = new Float64Array(A);
  const accKeys = acc.keys;
  const accV = acc.v2;
  const accEnc = acc.encoded;
  const s = valuesOf(rec.squashed),
    alpha = valuesOf(rec.weights),
    enc = valuesOf(encoded);
  const v = valuesOf(v2),
    dc = valuesOf(dContext);
  for (let b = 0; b < B; b++) {
    const dcRow = b * E;
    let weighted = 0;
    for (let l = 0; l < L; l++) {
      const encRow = (b * L + l) * E;
      const a = alpha[b * L + l];
      let dot = 0;
      for (let e = 0; e < E; e++) {
        const d = dc[dcRow + e];
        dot += d * enc[encRow + e];
        accEnc[encRow + e] += a * d;
      }
      if (gap && stepMask[b] !== 0) dot += gap[b * L + l];
      dAlpha[l] = dot;
      weighted += a * dot;
    }
    queryRow.fill(0);
    for (let l = 0; l < L; l++) {
      const de = alpha[b * L + l] * (dAlpha[l] - weighted);
      const base = (b * L + l) * A;
      for (let a = 0; a < A; a++) {
        const si = s[base + a];
        const w = de * (si - si * si);
        accKeys[base + a] += w;
        queryRow[a] += w;
        accV[a] += de * si;
      }
    }
    const qRow = b * A;
    for (let a = 0; a < A; a++) dQuery[qRow + a] = queryRow[a] * v[a];
  }
  return tf.tensor2d(dQuery, [B, A]);
}

/**
 * Splits [n·rows, cols] into n [rows, cols] tensors. tf.split/tf.slice on wasm copy the whole
 * source out of the heap for every piece (readSync), which made the per-step split of a
 * [2176, 1536] tensor cost ~0.3 s; this copies each piece once.
 */
function splitRows(x: tf.Tensor2D, n: number): tf.Tensor2D[] {
  return rowChunks(x, x.shape[0] / n);
}

/** Consecutive row blocks of at most `rows` rows. */
function rowChunks(x: tf.Tensor2D, rows: number): tf.Tensor2D[] {
  const [total, cols] = x.shape;
  const out: tf.Tensor2D[] = [];
  for (let start = 0; start < total; start += rows) {
    const end = Math.min(total, start + rows);
    // A fresh heap view per piece: creating a tensor may grow (and detach) the wasm heap.
    out.push(tf.tensor2d(valuesOf(x).slice(start * cols, end * cols), [end - start, cols]));
  }
  return out;
}

/** Row-major 2-D transpose (tfjs-wasm's transposed matMul takes a slow path, so operands are transposed explicitly). */
function transpose2d(x: tf.Tensor): tf.Tensor2D {
  return tf.transpose(x as tf.Tensor2D) as tf.Tensor2D;
}

/** Inner dimension above which matMulTN splits its reduction (see there). */
const REDUCTION_CHUNK = 256;

/**
 * aᵀ·b for a [K, M], b [K, N] (a weight gradient: K = rows of the batch), transposing whichever
 * side is cheaper (a, or b and the result). XNNPACK on wasm slows down ~1.6x when K is in the
 * thousands, so long reductions are summed over blocks of REDUCTION_CHUNK rows.
 */
function matMulTN(a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D {
  const [K, m] = a.shape;
  const n = b.shape[1];
  const transposeResult = a.size > b.size + m * n;
  const [left, right] = transposeResult ? [b, a] : [a, b];
  let product: tf.Tensor2D;
  if (K <= 2 * REDUCTION_CHUNK) product = tf.matMul(transpose2d(left), right);
  else {
    const rightChunks = rowChunks(right, REDUCTION_CHUNK);
    product = tf.addN(rowChunks(left, REDUCTION_CHUNK).map((l, i) => tf.matMul(transpose2d(l), rightChunks[i]))) as tf.Tensor2D;
  }
  return transposeResult ? transpose2d(product) : product;
}

/** Column sums of [M, N] as a [1, M]·[M, N] matMul (a reduction over axis 0 transposes on wasm). */
function columnSum(x: tf.Tensor2D): tf.Tensor1D {
  return tf.matMul(tf.ones([1, x.shape[0]]), x).reshape([x.shape[1]]);
}

/** out[ids[i]] += rows[i] for [V, E] (the embedding gradient; tfjs-wasm lacks UnsortedSegmentSum). */
function scatterAddRows(rows: tf.Tensor2D, ids: Int32Array, vocabSize: number): tf.Tensor2D {
  const E = rows.shape[1];
  const out = new Float32Array(vocabSize * E);
  const values = valuesOf(rows);
  for (let i = 0; i < ids.length; i++) {
    const src = i * E;
    const dst = ids[i] * E;
    for (let e = 0; e < E; e++) out[dst + e] += values[src + e];
  }
  return tf.tensor2d(out, [vocabSize, E]);
}
