/**
 * Caption decoding, batched over images: greedy, beam search and seeded sampling. All three run the
 * encoder and the attention keys once per image and then one decoder step per word through a
 * StepEngine (TF.js below, onnxruntime in native/decode-engine.ts); the search logic is engine-agnostic.
 * Conventions: at most `maxLength` decoder steps (the step producing <eos> counts); `tokens`/`words`
 * exclude <sos> and <eos>; `logProb` sums log p of every generated token including <eos>;
 * `attention[i]` holds the L attention weights used to produce tokens[i]. <pad> (id 0) and <sos>
 * are never generated.
 */
import { tf } from '@captioner/tf';
import { CaptionerError, seededRandom } from '@captioner/core';
import type { CaptionModel } from './model.js';
import type { StepEngine } from './step-engine.js';

export type { StepEngine, StepSession } from './step-engine.js';

export interface DecodeResult {
  tokens: number[];
  words: string[];
  /** Sum of log-probabilities of the generated tokens (including <eos> when reached). */
  logProb: number;
  /** Per token, the L attention weights of the step that produced it. */
  attention: Float32Array[];
  /** Whether <eos> was produced within maxLength. */
  finished: boolean;
}

export interface DecodeOptions {
  startId: number;
  endId: number;
  maxLength: number;
  /** id → word; defaults to the vocabulary of a loaded model, else the ids as strings. */
  words?: readonly string[];
  /**
   * Never generate an n-gram of this size twice in one caption (0 = off). Greedy captions of
   * models trained with the articles otherwise loop ("… a man in a blue shirt and a man in a …").
   */
  noRepeatNgram?: number;
  /** Where the decoder steps run (default: the model's `stepEngine`, else TF.js). */
  engine?: StepEngine;
}

export interface BeamOptions extends DecodeOptions {
  beam: number;
  /** Score = logProb / length^lengthPenalty (default 1: mean log-probability per token). */
  lengthPenalty?: number;
}

export interface SampleOptions extends DecodeOptions {
  /** Logits are divided by this before the softmax (default 1). */
  temperature?: number;
  seed: number;
}

function checkOptions(model: CaptionModel, features: tf.Tensor3D, opts: DecodeOptions): void {
  const V = model.config.vocabSize;
  for (const key of ['startId', 'endId'] as const) {
    const id = opts[key];
    if (!Number.isInteger(id) || id <= 0 || id >= V) throw new CaptionerError(`decode: ${key} ${id} is not a token id in [1, ${V})`);
  }
  if (!Number.isInteger(opts.maxLength) || opts.maxLength < 1) throw new CaptionerError(`decode: maxLength must be >= 1, got ${opts.maxLength}`);
  const n = opts.noRepeatNgram ?? 0;
  if (!Number.isInteger(n) || n < 0) throw new CaptionerError(`decode: noRepeatNgram must be an integer >= 0, got ${n}`);
  if (features.rank !== 3) throw new CaptionerError(`decode: features must be [B, L, D], got [${features.shape}]`);
}

function wordsFor(model: CaptionModel, opts: DecodeOptions): (id: number) => string {
  const table = opts.words ?? (model as CaptionModel & { words?: readonly string[] }).words;
  return (id) => table?.[id] ?? String(id);
}

// ---------------------------------------------------------------- the step-engine seam

/** The row added to the logits before the log-softmax: −Infinity at <pad> and <sos>. */
export function bannedTokens(vocabSize: number, startId: number): Float32Array {
  const banned = new Float32Array(vocabSize);
  banned[0] = -Infinity;
  banned[startId] = -Infinity;
  return banned;
}

/** The TF.js engine: CaptionModel.encode / attentionKeys / step on the active backend. */
export function tfjsStepEngine(model: CaptionModel): StepEngine {
  return {
    name: 'tfjs',
    start(features, copies) {
      const { encoded, keys } = tf.tidy(() => {
        const f = copies === 1 ? features : tf.gather(features, tf.tensor1d(repeatIndex(features.shape[0], copies), 'int32'));
        const enc = model.encode(f as tf.Tensor3D);
        return { encoded: enc, keys: model.attentionKeys(enc) };
      });
      let hidden = model.initialHidden(encoded.shape[0]);
      return {
        step(prevTokens, startId, temperature) {
          const out = tf.tidy(() => model.step(encoded, tf.tensor1d(prevTokens, 'int32'), hidden, keys));
          hidden.dispose();
          hidden = out.hidden;
          const logProbs = tf.tidy(() => {
            const scaled = temperature === 1 ? out.logits : tf.div(out.logits, temperature);
            return tf.logSoftmax(tf.add(scaled, tf.tensor1d(bannedTokens(out.logits.shape[1], startId)))).dataSync() as Float32Array;
          });
          const attention = out.attention.dataSync() as Float32Array;
          tf.dispose([out.logits, out.attention]);
          return { logProbs, attention };
        },
        reorder(parents) {
          const reordered = tf.tidy(() => tf.gather(hidden, tf.tensor1d(parents, 'int32')) as tf.Tensor2D);
          hidden.dispose();
          hidden = reordered;
        },
        dispose() {
          tf.dispose([encoded, keys, hidden]);
        },
      };
    },
  };
}

/** Makes the engine a model decodes with when neither the call nor the model names one (null = TF.js). */
export type DefaultStepEngine = (model: CaptionModel) => StepEngine | null;
let defaultEngine: DefaultStepEngine | null = null;

/**
 * Sets (or clears) the default engine factory. @captioner/model's Node entry registers the native
 * one (engine auto); browsers never do. A model keeps the engine made for it (model.stepEngine),
 * so model.dispose() releases it.
 */
export function setDefaultStepEngine(factory: DefaultStepEngine | null): void {
  defaultEngine = factory;
}

/** The engine of a decode call: opts.engine, else the model's (CaptionModel.stepEngine), else the default's, else TF.js. */
function engineFor(model: CaptionModel, opts: DecodeOptions): StepEngine {
  if (opts.engine) return opts.engine;
  if (!model.stepEngine && defaultEngine) model.stepEngine = defaultEngine(model);
  return model.stepEngine ?? tfjsStepEngine(model);
}

/**
 * Tokens that would repeat an n-gram already in `tokens` if generated next: for every earlier
 * occurrence of the last n−1 tokens, the token that followed it. n = 1 bans every used token.
 */
export function repeatedNgramTokens(tokens: readonly number[], n: number): number[] {
  if (n < 1 || tokens.length < n - 1) return [];
  const banned: number[] = [];
  const start = tokens.length - (n - 1);
  for (let i = 0; i + n - 1 < tokens.length; i++) {
    let match = true;
    for (let j = 0; j < n - 1 && match; j++) match = tokens[i + j] === tokens[start + j];
    if (match) banned.push(tokens[i + n - 1]);
  }
  return banned;
}

/** Sets the log-probabilities of tokens that would repeat an n-gram to −∞ (row `row` of [rows·V]). */
function banRepeats(logProbs: Float32Array, row: number, V: number, tokens: readonly number[], n: number): void {
  if (n <= 0) return;
  for (const id of repeatedNgramTokens(tokens, n)) logProbs[row * V + id] = -Infinity;
}

/** [0,0,…,1,1,…]: each image's row repeated `copies` times, image-major. */
export function repeatIndex(batch: number, copies: number): Int32Array {
  const idx = new Int32Array(batch * copies);
  for (let i = 0; i < idx.length; i++) idx[i] = Math.floor(i / copies);
  return idx;
}

/** Runs the shared per-step loop for greedy and sampling: `choose` picks each row's next token. */
function decodeLoop(
  model: CaptionModel,
  features: tf.Tensor3D,
  opts: DecodeOptions,
  choose: (logProbs: Float32Array, row: number, V: number) => number,
  temperature = 1,
): DecodeResult[] {
  checkOptions(model, features, opts);
  const B = features.shape[0];
  const { vocabSize: V, locations: L } = model.config;
  const word = wordsFor(model, opts);
  const results: DecodeResult[] = Array.from({ length: B }, () => ({ tokens: [], words: [], logProb: 0, attention: [], finished: false }));
  const session = engineFor(model, opts).start(features, 1);
  const prev = new Int32Array(B).fill(opts.startId);
  try {
    for (let step = 0; step < opts.maxLength && results.some((r) => !r.finished); step++) {
      const { logProbs, attention } = session.step(prev, opts.startId, temperature);
      for (let b = 0; b < B; b++) {
        const r = results[b];
        if (r.finished) continue;
        banRepeats(logProbs, b, V, r.tokens, opts.noRepeatNgram ?? 0);
        const id = choose(logProbs, b, V);
        r.logProb += logProbs[b * V + id];
        prev[b] = id;
        if (id === opts.endId) {
          r.finished = true;
          continue;
        }
        r.tokens.push(id);
        r.words.push(word(id));
        r.attention.push(attention.slice(b * L, (b + 1) * L));
      }
    }
  } finally {
    session.dispose();
  }
  return results;
}

/** Most probable token at every step. */
export function greedyDecode(model: CaptionModel, features: tf.Tensor3D, opts: DecodeOptions): DecodeResult[] {
  return decodeLoop(model, features, opts, (lp, row, V) => {
    let best = 0;
    let bestValue = -Infinity;
    for (let v = 0; v < V; v++) {
      const x = lp[row * V + v];
      if (x > bestValue) {
        bestValue = x;
        best = v;
      }
    }
    return best;
  });
}

/** Ancestral sampling from softmax(logits / temperature); the same seed gives the same captions. */
export function sampleDecode(model: CaptionModel, features: tf.Tensor3D, opts: SampleOptions): DecodeResult[] {
  const temperature = opts.temperature ?? 1;
  if (!(temperature > 0)) throw new CaptionerError(`decode: temperature must be > 0, got ${temperature}`);
  const random = seededRandom(opts.seed);
  const results = decodeLoop(
    model,
    features,
    opts,
    (lp, row, V) => {
      let u = random();
      for (let v = 0; v < V; v++) {
        u -= Math.exp(lp[row * V + v]);
        if (u <= 0) return v;
      }
      // Rounding left a sliver of mass: take the most probable token.
      let best = 1;
      for (let v = 1; v < V; v++) if (lp[row * V + v] > lp[row * V + best]) best = v;
      return best;
    },
    temperature,
  );
  return results;
}

interface Hypothesis {
  tokens: number[];
  logProb: number;
  attention: Float32Array[];
}

/**
 * Beam search with length normalization (score = logProb / length^lengthPenalty) and, optionally,
 * n-gram repetition blocking per hypothesis. Each image keeps
 * `beam` live hypotheses; a hypothesis that produces <eos> among the top `beam` candidates is set
 * aside as finished. An image stops when it has `beam` finished hypotheses; the best finished one is
 * returned, or, if none reached <eos> within maxLength, the best unfinished one. beam = 1 is greedy.
 */
export function beamSearch(model: CaptionModel, features: tf.Tensor3D, opts: BeamOptions): DecodeResult[] {
  checkOptions(model, features, opts);
  const k = opts.beam;
  if (!Number.isInteger(k) || k < 1) throw new CaptionerError(`decode: beam must be a positive integer, got ${k}`);
  const alpha = opts.lengthPenalty ?? 1;
  const normalized = (h: Hypothesis, length: number) => h.logProb / Math.pow(Math.max(1, length), alpha);
  const B = features.shape[0];
  const { vocabSize: V, locations: L } = model.config;
  const word = wordsFor(model, opts);

  // Rows are image-major: row b·k + j is hypothesis j of image b. Only hidden states are
  // reordered between steps; encoded features and keys are identical across an image's beams.
  const session = engineFor(model, opts).start(features, k);
  let live: Hypothesis[][] = Array.from({ length: B }, () => [{ tokens: [], logProb: 0, attention: [] }]);
  const finished: { h: Hypothesis; score: number }[][] = Array.from({ length: B }, () => []);
  const done = new Array<boolean>(B).fill(false);
  const prev = new Int32Array(B * k).fill(opts.startId);
  try {
    for (let step = 0; step < opts.maxLength && done.some((d) => !d); step++) {
      const { logProbs, attention } = session.step(prev, opts.startId, 1);
      const parents = new Int32Array(B * k);
      const nextLive: Hypothesis[][] = [];
      for (let b = 0; b < B; b++) {
        if (done[b]) {
          nextLive.push(live[b]);
          for (let j = 0; j < k; j++) parents[b * k + j] = b * k + j;
          continue;
        }
        // Top 2k expansions over all live hypotheses of this image (enough to refill k live ones).
        const candidates: { parent: number; id: number; logProb: number }[] = [];
        live[b].forEach((h, j) => {
          const row = b * k + j;
          banRepeats(logProbs, row, V, h.tokens, opts.noRepeatNgram ?? 0);
          for (let v = 0; v < V; v++) {
            const lp = h.logProb + logProbs[row * V + v];
            if (lp === -Infinity) continue;
            if (candidates.length < 2 * k) {
              candidates.push({ parent: j, id: v, logProb: lp });
              if (candidates.length === 2 * k) candidates.sort((x, y) => y.logProb - x.logProb);
            } else if (lp > candidates[2 * k - 1].logProb) {
              let i = 2 * k - 1;
              while (i > 0 && candidates[i - 1].logProb < lp) {
                candidates[i] = candidates[i - 1];
                i--;
              }
              candidates[i] = { parent: j, id: v, logProb: lp };
            }
          }
        });
        candidates.sort((x, y) => y.logProb - x.logProb);
        const kept: Hypothesis[] = [];
        candidates.forEach((c, rank) => {
          if (kept.length >= k) return;
          const parent = live[b][c.parent];
          const row = b * k + c.parent;
          const att = attention.slice(row * L, (row + 1) * L);
          if (c.id === opts.endId) {
            if (rank < k) {
              const h = { tokens: parent.tokens, logProb: c.logProb, attention: parent.attention };
              finished[b].push({ h, score: normalized(h, parent.tokens.length + 1) });
            }
            return;
          }
          parents[b * k + kept.length] = row;
          prev[b * k + kept.length] = c.id;
          kept.push({ tokens: [...parent.tokens, c.id], logProb: c.logProb, attention: [...parent.attention, att] });
        });
        // Unused rows (first step, tiny vocabularies) repeat the first hypothesis' state.
        for (let j = kept.length; j < k; j++) {
          parents[b * k + j] = parents[b * k];
          prev[b * k + j] = prev[b * k];
        }
        nextLive.push(kept);
        if (finished[b].length >= k || kept.length === 0) done[b] = true;
      }
      live = nextLive;
      session.reorder(parents);
    }
  } finally {
    session.dispose();
  }

  return Array.from({ length: B }, (_, b) => {
    const best = finished[b].reduce<{ h: Hypothesis; score: number } | null>((a, c) => (!a || c.score > a.score ? c : a), null);
    let h: Hypothesis;
    let isFinished = true;
    if (best) h = best.h;
    else {
      isFinished = false;
      h = live[b].reduce((a, c) => (normalized(c, c.tokens.length) > normalized(a, a.tokens.length) ? c : a));
    }
    return { tokens: h.tokens, words: h.tokens.map(word), logProb: h.logProb, attention: h.attention, finished: isFinished };
  });
}
