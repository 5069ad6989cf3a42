import { assertScorable, ngramCounts, ngramOrder, type ScoredCaption } from './ngrams.js';

/**
 * CIDEr-D as in pycocoevalcap's cider_scorer.py (the COCO server's "CIDEr", which is CIDEr-D):
 * - n-grams of order 1..4 weighted by tf-idf, raw term counts times
 *   log(#images) − log(max(1, df)), where df counts the images whose *references* contain the n-gram;
 * - per order, the similarity to each reference is Σ min(hyp, ref)·ref over the candidate's
 *   n-grams (the clipping that makes it "-D"), divided by both vector norms;
 * - times a Gaussian length penalty exp(−δ²/2σ²), σ = 6, where δ is the difference of the
 *   *bigram* counts of candidate and reference (cider_scorer counts `length` at n-gram index 1,
 *   i.e. bigrams = words − 1; kept for parity, it equals the word-length difference whenever
 *   both captions have at least one word);
 * - averaged over the 4 orders, averaged over the references, ×10; the corpus score is the
 *   mean over images. Scores therefore range 0..10 in principle (typical captioners: 0.4–1.3).
 * Document frequencies are computed over the evaluated set only, as pycocoevalcap does, so a
 * score depends on which images are evaluated together.
 */

export interface CiderOptions {
  n?: number;
  sigma?: number;
}

export interface CiderResult {
  score: number;
  perItem: number[];
}

/** A caption's tf-idf n-gram vector under one corpus's document frequencies (see {@link ciderDScorer}). */
export interface CiderVector {
  /** tf-idf weight per n-gram key. */
  readonly weights: ReadonlyMap<string, number>;
  /** The same n-grams as parallel arrays (key, weight, order), for fast iteration. */
  readonly grams: readonly string[];
  readonly values: Float64Array;
  readonly orders: Uint8Array;
  /** Euclidean norm per order (index = order − 1). */
  readonly norms: readonly number[];
  /** Bigram count (see the module comment). */
  readonly length: number;
}

/**
 * CIDEr-D with the document frequencies of a fixed corpus, for scoring many candidates against the
 * same references (a constant-caption search, validation every epoch, consensus among a caption's
 * siblings) without recomputing them. `ciderD(items)` is exactly
 * `ciderDScorer(items.map(i => i.references)).scoreDocument(item.candidate, i)` for every item.
 */
export interface CiderDScorer {
  /** Number of documents (images) whose references define the document frequencies. */
  readonly documents: number;
  /** The tf-idf vector of a tokenized caption; reuse it to score one candidate against many documents. */
  vector(tokens: readonly string[]): CiderVector;
  /** CIDEr-D (0..10) of a candidate against document `index`'s references (their vectors are cached). */
  scoreDocument(candidate: readonly string[] | CiderVector, index: number): number;
  /** CIDEr-D (0..10) of a candidate against any references, weighted with this corpus's document frequencies. */
  score(candidate: readonly string[] | CiderVector, references: readonly (readonly string[])[]): number;
}

/** Document frequencies from `documents` (each one image's tokenized references), then a scorer over them. */
export function ciderDScorer(documents: readonly (readonly (readonly string[])[])[], options: CiderOptions = {}): CiderDScorer {
  const n = options.n ?? 4;
  const sigma = options.sigma ?? 6;
  if (documents.length === 0) throw new Error('CIDEr-D: no documents for the document frequencies');
  documents.forEach((refs, i) => {
    if (refs.length === 0) throw new Error(`CIDEr-D: item ${i} has no references`);
  });

  const refCounts = documents.map((refs) => refs.map((r) => ngramCounts(r, n)));
  const documentFrequency = new Map<string, number>();
  for (const refs of refCounts) {
    const seen = new Set<string>();
    for (const counts of refs) for (const gram of counts.keys()) seen.add(gram);
    for (const gram of seen) documentFrequency.set(gram, (documentFrequency.get(gram) ?? 0) + 1);
  }
  const logImages = Math.log(documents.length);

  const toVector = (counts: Map<string, number>): CiderVector => {
    const weights = new Map<string, number>();
    const grams: string[] = [];
    const values = new Float64Array(counts.size);
    const orders = new Uint8Array(counts.size);
    const squares = new Array<number>(n).fill(0);
    let length = 0;
    for (const [gram, termFrequency] of counts) {
      const order = ngramOrder(gram);
      const w = termFrequency * (logImages - Math.log(Math.max(1, documentFrequency.get(gram) ?? 0)));
      weights.set(gram, w);
      values[grams.length] = w;
      orders[grams.length] = order;
      grams.push(gram);
      squares[order - 1] += w * w;
      if (order === 2) length += termFrequency;
    }
    return { weights, grams, values, orders, norms: squares.map(Math.sqrt), length };
  };

  // Sum over orders of the clipped, normalised, length-penalised similarity (pycocoevalcap `sim`, summed).
  const similarity = (hyp: CiderVector, ref: CiderVector): number => {
    const delta = hyp.length - ref.length;
    const penalty = Math.exp(-(delta * delta) / (2 * sigma * sigma));
    const values = new Array<number>(n).fill(0);
    for (let i = 0; i < hyp.grams.length; i++) {
      const r = ref.weights.get(hyp.grams[i]);
      if (r !== undefined) values[hyp.orders[i] - 1] += Math.min(hyp.values[i], r) * r;
    }
    let sum = 0;
    for (let k = 0; k < n; k++) {
      if (hyp.norms[k] !== 0 && ref.norms[k] !== 0) values[k] /= hyp.norms[k] * ref.norms[k];
      sum += values[k] * penalty;
    }
    return sum;
  };

  const vector = (tokens: readonly string[]) => toVector(ngramCounts(tokens, n));
  const asVector = (c: readonly string[] | CiderVector): CiderVector => (Array.isArray(c) ? vector(c as readonly string[]) : (c as CiderVector));
  const meanOver = (hyp: CiderVector, refs: readonly CiderVector[]): number => {
    let sum = 0;
    for (const ref of refs) sum += similarity(hyp, ref);
    return (sum / n / refs.length) * 10;
  };
  const cache: (CiderVector[] | undefined)[] = new Array(documents.length);

  return {
    documents: documents.length,
    vector,
    scoreDocument(candidate, index) {
      if (!(index >= 0 && index < documents.length)) throw new RangeError(`CIDEr-D: document ${index} of ${documents.length}`);
      const refs = (cache[index] ??= refCounts[index].map(toVector));
      return meanOver(asVector(candidate), refs);
    },
    score(candidate, references) {
      if (references.length === 0) throw new Error('CIDEr-D: no references');
      return meanOver(asVector(candidate), references.map(vector));
    },
  };
}

export function ciderD(items: readonly ScoredCaption[], options: CiderOptions = {}): CiderResult {
  assertScorable(items, 'CIDEr-D');
  if (items.length === 0) throw new Error('CIDEr-D: no items to score');
  const scorer = ciderDScorer(
    items.map((item) => item.references),
    options,
  );
  const perItem = items.map((item, i) => scorer.scoreDocument(item.candidate, i));
  return { score: perItem.reduce((a, b) => a + b, 0) / perItem.length, perItem };
}
