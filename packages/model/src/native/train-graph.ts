/**
 * The training loss and its hand-derived gradient (CaptionModel.forwardBackward in model.ts) as one
 * ONNX graph for onnxruntime: the same formulation, op for op where the numbers matter
 * (sigmoid-domain attention scores, softmax → gather → log cross-entropy, ScatterElements for
 * softmax − onehot, the BPTT of model.ts's JS loops written as tensor ops). The recurrence is a
 * Scan (forward) and a reverse Scan (backward), so one graph serves every batch size B and caption
 * length S: shapes are symbolic, and onnxruntime plans memory once per session.
 *
 * Inputs: the 15 parameters by name, and per batch (see native/train-step.ts for how they are made):
 *   features [B, L, D], input_ids [S·B] (time-major), valid_rows [N] and targets [N, 1] (the
 *   time-major rows whose target is not <pad>), step_mask [S, B, 1], has_target [B, 1],
 *   drop_mask [N, U] (dropout multipliers of the valid rows, ones when off), inv_n [] = 1/N,
 *   penalty [] = λ.
 * Outputs: loss [] (mean over the N targets, + penalty), and with gradients `grad:<name>` for every
 * parameter (d loss / d parameter) and grad_squares [] (Σ g² over all of them, for clipping).
 */
import { attr, encodeModel } from '@captioner/onnx';
import type { CaptionModelConfig } from '../model.js';
import { parameterSpecs } from '../model.js';
import { I64, OPSET, Ops } from './ops.js';

export const GRAD_PREFIX = 'grad:';
/** Output: Σ of the squared gradient entries over all parameters. */
export const GRAD_SQUARES = 'grad_squares';

export interface TrainGraphOptions {
  /** Emit the backward pass and the gradient outputs (false: loss only, for validation). */
  withGradients: boolean;
  /**
   * Also clip and apply Adam in the graph (see ADAM_INPUTS): outputs `new:<name>`, `new_m:<name>`,
   * `new_v:<name>` instead of the gradients. Each op is the float32 op tfjs-core's AdamOptimizer
   * applies, in its order.
   */
  adam?: boolean;
}

/** Scalar inputs of the Adam graph: clip_norm (0 = off), β1, β2, 1−β1, 1−β2, 1−β1ᵗ, 1−β2ᵗ, ε, −lr. */
export const ADAM_INPUTS = ['clip_norm', 'adam_b1', 'adam_b2', 'adam_1mb1', 'adam_1mb2', 'adam_c1', 'adam_c2', 'adam_eps', 'adam_neg_lr'] as const;

export function buildTrainGraph(config: CaptionModelConfig, opts: TrainGraphOptions): Uint8Array {
  const { vocabSize: V, locations: L, featureDim: D, embeddingDim: E, units: U, attentionUnits: A } = config;
  const o = new Ops(opts.adam ? 'caption_train_step' : opts.withGradients ? 'caption_gradients' : 'caption_loss');
  const p: Record<string, string> = {};
  for (const spec of parameterSpecs(config)) p[spec.name] = o.input(spec.name, spec.shape);
  const features = o.input('features', ['B', L, D]);
  const inputIds = o.input('input_ids', ['SB'], I64);
  const validRows = o.input('valid_rows', ['N'], I64);
  const targets = o.input('targets', ['N', 1], I64);
  const stepMask = o.input('step_mask', ['S', 'B', 1]);
  const hasTarget = o.input('has_target', ['B', 1]);
  const dropMask = o.input('drop_mask', ['N', U]);
  const invN = o.input('inv_n', []);
  const penalty = o.input('penalty', []);

  // ---- derived weights (CaptionModel.derived)
  const two = o.f(2);
  const [bx, bh] = o.split(p['gru/bias'], [1, 1], 0).map((b) => o.reshape(b, [3 * U]));
  const [kernelContext, kernelEmbedding] = o.split(p['gru/kernel'], [E, E], 0);
  const recurrent = o.concat([p['gru/recurrent_kernel'], o.mul(p['attention/W2/kernel'], two)], 1); // [U, 3U+A]
  const recurrentBias = o.concat([bh, o.mul(p['attention/W2/bias'], two)], 0); // [3U+A]
  const keysKernel = o.mul(p['attention/W1/kernel'], two); // [E, A]
  const keysBias = o.mul(p['attention/W1/bias'], two);
  const v2 = o.mul(p['attention/V/kernel'], two); // [A, 1]

  // ---- once per batch: encoder, keys, embeddings of every step and their GRU input projection
  const B = o.dim(features, 0);
  const S = o.dim(stepMask, 0);
  const features2d = o.reshape(features, [-1, D]); // [B·L, D]
  const enc2d = o.relu(o.gemm(features2d, p['encoder/kernel'], p['encoder/bias'])); // [B·L, E]
  const encoded = o.reshape(enc2d, o.shapeOf([B, L, E])); // [B, L, E]
  const keys = o.reshape(o.gemm(enc2d, keysKernel, keysBias), o.shapeOf([B, L, A])); // [B, L, A]
  const embedded = o.gather(p['embedding/embeddings'], inputIds); // [S·B, E]
  const xEmbedded = o.reshape(o.gemm(embedded, kernelEmbedding, bx), o.shapeOf([S, B, 3 * U])); // [S, B, 3U]

  // ---- the recurrence: attention + GRU per step (Scan over S)
  const fwd = new Ops('forward_step', [encoded, keys, recurrent, recurrentBias, v2, kernelContext]);
  {
    const h = fwd.input('h', ['B', U]);
    const xe = fwd.input('x_embedded', ['B', 3 * U]);
    const hq = fwd.gemm(h, recurrent, recurrentBias); // [B, 3U+A]: recurrent gates | attention query
    const [hg, q] = fwd.split(hq, [3 * U, A], 1);
    const squashed = fwd.sigmoid(fwd.add(keys, fwd.unsqueeze(q, [1]))); // [B, L, A]
    const scores = fwd.squeeze(fwd.matmul(squashed, v2), [2]); // [B, L]
    const alpha = fwd.softmax(scores, 1);
    const context = fwd.squeeze(fwd.matmul(fwd.unsqueeze(alpha, [1]), encoded), [1]); // [B, E]
    const xg = fwd.add(fwd.matmul(context, kernelContext), xe);
    const [xz, xr, xn] = fwd.split(xg, [U, U, U], 1);
    const [hz, hr, hn] = fwd.split(hg, [U, U, U], 1);
    const z = fwd.sigmoid(fwd.add(xz, hz));
    const r = fwd.sigmoid(fwd.add(xr, hr));
    const n = fwd.tanh(fwd.add(xn, fwd.mul(r, hn)));
    const hNext = fwd.add(n, fwd.mul(z, fwd.sub(h, n)), 'h_next');
    // Body outputs: the new state, then the per-step tensors Scan stacks. A tensor may be an
    // output and feed other nodes; only a repeated output or a body input needs an Identity.
    fwd.output(hNext);
    fwd.output(fwd.identity(hNext, 'h_out'));
    fwd.output(alpha);
    if (opts.withGradients) {
      fwd.output(fwd.identity(h, 'h_prev_out'));
      for (const t of [context, squashed, z, r, n, hn]) fwd.output(t);
    }
  }
  const h0 = o.zeros(o.shapeOf([B, U]));
  const scanOutputs = opts.withGradients ? 10 : 3; // final h, then the stacked per-step tensors
  const [, hAll, alphaAll, hPrevAll, contextAll, squashedAll, zAll, rAll, nAll, hnAll] = o.g.nodeMulti(
    'Scan',
    [h0, xEmbedded],
    [attr.graph('body', fwd.g.build()), attr.int('num_scan_inputs', 1)],
    scanOutputs,
    { name: 'recurrence' },
  );

  // ---- output layers and cross-entropy over the valid rows
  const hValid = o.gather(o.reshape(hAll, [-1, U]), validRows); // [N, U]
  const hDrop = o.mul(hValid, dropMask); // dropout on what fc1 reads (ones when off)
  const o1 = o.gemm(hDrop, p['fc1/kernel'], p['fc1/bias']); // [N, U]
  const probs = o.softmax(o.gemm(o1, p['fc2/kernel'], p['fc2/bias']), 1); // [N, V]
  const pTarget = o.gatherElements(probs, targets, 1); // [N, 1]
  const nll = o.neg(o.reduceSum(o.log(o.max(pTarget, o.f(1e-38))), null, false));
  // Doubly stochastic attention: Σ_b Σ_l (Σ_{t: non-pad} α_btl − 1)² over captions with targets.
  const coverage = o.reduceSum(o.mul(alphaAll, stepMask), [0], false); // [B, L]
  const gap = o.mul(o.sub(coverage, o.f(1)), hasTarget);
  const total = o.add(nll, o.mul(penalty, o.reduceSum(o.mul(gap, gap), null, false)));
  o.mul(total, invN, 'loss');
  o.output('loss', []);
  if (!opts.withGradients) return encode(o);

  // ================================================================ backward
  // dlogits = softmax − onehot (scaled by 1/N after the products, as model.ts does).
  const dLogits = o.scatterElements(probs, targets, o.sub(pTarget, o.f(1)), 1); // [N, V]
  const grads: Record<string, string> = {};
  grads['fc2/kernel'] = o.mul(o.gemm(o1, dLogits, undefined, { transA: true }), invN); // [U, V]
  grads['fc2/bias'] = o.mul(o.reduceSum(dLogits, [0], false), invN);
  const dO1 = o.mul(o.gemm(dLogits, p['fc2/kernel'], undefined, { transB: true }), invN); // [N, U]
  grads['fc1/kernel'] = o.gemm(hDrop, dO1, undefined, { transA: true });
  grads['fc1/bias'] = o.reduceSum(dO1, [0], false);
  const dHValid = o.mul(o.gemm(dO1, p['fc1/kernel'], undefined, { transB: true }), dropMask); // [N, U]
  // Back to time-major rows [S, B, U]; pad rows stay zero.
  const SB = o.dim(inputIds, 0);
  const dHAll = o.reshape(o.scatterND(o.zeros(o.shapeOf([SB, U])), o.unsqueeze(validRows, [1]), dHValid), o.shapeOf([S, B, U]));
  // Penalty: d/dα_btl of (λ/N)·Σ(Σ_t α − 1)² = (2λ/N)·gap_bl on non-pad steps.
  const gapSteps = o.mul(stepMask, o.mul(gap, o.mul(o.mul(penalty, two), invN))); // [S, B, L]
  const vRow = o.reshape(v2, [A]);

  // ---- BPTT: a reverse Scan over the stored steps (model.ts: gruCellBackward, attentionBackward)
  const bwd = new Ops('backward_step', [encoded, kernelContext, recurrent, vRow]);
  {
    const dhNext = bwd.input('dh_next', ['B', U]);
    const accKeys = bwd.input('acc_keys', ['B', L, A]);
    const accV = bwd.input('acc_v', [1, A]);
    const accEnc = bwd.input('acc_enc', ['B', L, E]);
    const dHt = bwd.input('dh_t', ['B', U]);
    const hp = bwd.input('h_prev_t', ['B', U]);
    const alpha = bwd.input('alpha_t', ['B', L]);
    const s = bwd.input('squashed_t', ['B', L, A]);
    const z = bwd.input('z_t', ['B', U]);
    const r = bwd.input('r_t', ['B', U]);
    const n = bwd.input('n_t', ['B', U]);
    const hn = bwd.input('hn_t', ['B', U]);
    const gapT = bwd.input('gap_t', ['B', L]);
    const one = bwd.f(1);
    // GRU: dz = dh(h − n), dn = dh(1 − z), daz = dz·z(1 − z), dan = dn(1 − n²), dar = dan·hn·r(1 − r)
    const dh = bwd.add(dHt, dhNext);
    const oneMinusZ = bwd.sub(one, z);
    const daz = bwd.mul(bwd.mul(bwd.mul(dh, bwd.sub(hp, n)), z), oneMinusZ);
    const dan = bwd.mul(bwd.mul(dh, oneMinusZ), bwd.sub(one, bwd.mul(n, n)));
    const dar = bwd.mul(bwd.mul(bwd.mul(dan, hn), r), bwd.sub(one, r));
    const dXg = bwd.concat([daz, dar, dan], 1, 'dxg_out'); // [B, 3U]
    const dHg = bwd.concat([daz, dar, bwd.mul(dan, r)], 1);
    const dDirect = bwd.mul(dh, z);
    const dContext = bwd.gemm(dXg, kernelContext, undefined, { transB: true }); // [B, E]
    // Attention: dα_l = dc·enc_l (+ penalty), de = α ⊙ (dα − Σ α⊙dα), dpre = v2 ⊙ de·s(1 − s)
    const dAlpha = bwd.add(bwd.squeeze(bwd.matmul(encoded, bwd.unsqueeze(dContext, [2])), [2]), gapT); // [B, L]
    const weighted = bwd.reduceSum(bwd.mul(alpha, dAlpha), [1], true);
    const de = bwd.mul(alpha, bwd.sub(dAlpha, weighted)); // [B, L]
    bwd.add(accEnc, bwd.mul(bwd.unsqueeze(alpha, [2]), bwd.unsqueeze(dContext, [1])), 'acc_enc_next');
    const w = bwd.mul(bwd.unsqueeze(de, [2]), bwd.sub(s, bwd.mul(s, s))); // [B, L, A]: dpre / v2
    bwd.add(accKeys, w, 'acc_keys_next');
    bwd.add(accV, bwd.matmul(bwd.reshape(de, [1, -1]), bwd.reshape(s, [-1, A])), 'acc_v_next');
    const dq = bwd.mul(bwd.reduceSum(w, [1], false), vRow); // [B, A]
    const dHq = bwd.concat([dHg, dq], 1, 'dhq_out'); // [B, 3U+A]
    bwd.add(dDirect, bwd.gemm(dHq, recurrent, undefined, { transB: true }), 'dh_next_out');
    for (const name of ['dh_next_out', 'acc_keys_next', 'acc_v_next', 'acc_enc_next', 'dxg_out', 'dhq_out']) bwd.output(name);
  }
  const [, accKeys, accV, accEnc, dXgAll, dHqAll] = o.g.nodeMulti(
    'Scan',
    [
      o.zeros(o.shapeOf([B, U])),
      o.zeros(o.shapeOf([B, L, A])),
      o.zeros(o.i([1, A])),
      o.zeros(o.shapeOf([B, L, E])),
      dHAll,
      hPrevAll,
      alphaAll,
      squashedAll,
      zAll,
      rAll,
      nAll,
      hnAll,
      gapSteps,
    ],
    [
      attr.graph('body', bwd.g.build()),
      attr.int('num_scan_inputs', 9),
      attr.ints('scan_input_directions', new Array(9).fill(1)),
      // Reverse outputs: the step-t gradients land at index t.
      attr.ints('scan_output_directions', [1, 1]),
    ],
    6,
    { name: 'bptt' },
  );

  // ---- per-step gradients reduced with one product each
  const dXg2d = o.reshape(dXgAll, [-1, 3 * U]); // [S·B, 3U]
  const dHq2d = o.reshape(dHqAll, [-1, 3 * U + A]);
  const dKernelContext = o.gemm(o.reshape(contextAll, [-1, E]), dXg2d, undefined, { transA: true });
  const dKernelEmbedding = o.gemm(embedded, dXg2d, undefined, { transA: true });
  grads['gru/kernel'] = o.concat([dKernelContext, dKernelEmbedding], 0);
  const dRecurrentAll = o.gemm(o.reshape(hPrevAll, [-1, U]), dHq2d, undefined, { transA: true }); // [U, 3U+A]
  const [dRecurrent, dW2x2] = o.split(dRecurrentAll, [3 * U, A], 1);
  const [dHiddenBias, dB2x2] = o.split(o.reduceSum(dHq2d, [0], false), [3 * U, A], 0);
  grads['gru/recurrent_kernel'] = dRecurrent;
  grads['gru/bias'] = o.concat([o.reduceSum(dXg2d, [0], true), o.unsqueeze(dHiddenBias, [0])], 0);
  grads['attention/W2/kernel'] = o.mul(dW2x2, two);
  grads['attention/W2/bias'] = o.mul(dB2x2, two);
  const dEmbedded = o.gemm(dXg2d, kernelEmbedding, undefined, { transB: true }); // [S·B, E]
  grads['embedding/embeddings'] = o.scatterND(o.zeros(o.i([V, E])), o.unsqueeze(inputIds, [1]), dEmbedded, 'add');

  // ---- attention keys, encoder
  const dKeys = o.reshape(o.mul(accKeys, vRow), [-1, A]); // [B·L, A]
  grads['attention/W1/kernel'] = o.mul(o.gemm(enc2d, dKeys, undefined, { transA: true }), two);
  grads['attention/W1/bias'] = o.mul(o.reduceSum(dKeys, [0], false), two);
  grads['attention/V/kernel'] = o.mul(o.reshape(accV, [A, 1]), two);
  const dEncoded = o.add(o.reshape(accEnc, [-1, E]), o.gemm(dKeys, keysKernel, undefined, { transB: true }));
  const dEncoderPre = o.mul(dEncoded, o.castFloat(o.greater(enc2d, o.f(0))));
  grads['encoder/kernel'] = o.gemm(features2d, dEncoderPre, undefined, { transA: true });
  grads['encoder/bias'] = o.reduceSum(dEncoderPre, [0], false);

  // Σ over parameters of Σ g² (the global norm for clipping, as tf.addN(tf.sum(tf.square(g))) does).
  const squares = parameterSpecs(config).map((spec) => o.g.node('ReduceSumSquare', [grads[spec.name]], [attr.int('keepdims', 0)], { name: 'grad_sq' }));
  o.g.node('Sum', squares, [], { output: GRAD_SQUARES });
  o.output(GRAD_SQUARES, []);
  if (!opts.adam) {
    for (const spec of parameterSpecs(config)) {
      const name = `${GRAD_PREFIX}${spec.name}`;
      o.identity(grads[spec.name], name);
      o.output(name, spec.shape);
    }
    return encode(o);
  }

  // ---- global-norm clipping and Adam (train-step.ts applyGradientSums + tf.train.adam)
  const [clipNorm, b1, b2, oneMinusB1, oneMinusB2, c1, c2, eps, negLr] = ADAM_INPUTS.map((n) => o.input(n, []));
  const norm = o.g.node('Sqrt', [GRAD_SQUARES]);
  const zero = o.f(0);
  const clipping = o.g.node('And', [o.greater(clipNorm, zero), o.greater(norm, clipNorm)]);
  const scale = o.g.node('Where', [clipping, o.g.node('Div', [clipNorm, norm]), o.f(1)]);
  for (const spec of parameterSpecs(config)) {
    const m = o.input(`m:${spec.name}`, spec.shape);
    const v = o.input(`v:${spec.name}`, spec.shape);
    const g = o.mul(grads[spec.name], scale); // × 1 when not clipping: exact
    const mNext = o.add(o.mul(m, b1), o.mul(g, oneMinusB1), `new_m:${spec.name}`);
    const vNext = o.add(o.mul(v, b2), o.mul(o.mul(g, g), oneMinusB2), `new_v:${spec.name}`);
    const mHat = o.g.node('Div', [mNext, c1]);
    const vHat = o.g.node('Div', [vNext, c2]);
    const step = o.mul(o.g.node('Div', [mHat, o.add(o.g.node('Sqrt', [vHat]), eps)]), negLr);
    o.add(step, p[spec.name], `new:${spec.name}`);
    for (const out of [`new:${spec.name}`, `new_m:${spec.name}`, `new_v:${spec.name}`]) o.output(out, spec.shape);
  }
  return encode(o);
}

function encode(o: Ops): Uint8Array {
  return encodeModel({ graph: o.g.build(), opsets: [{ domain: '', version: OPSET }], producerName: '@captioner/model' });
}
