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

interface Vector {
  /** tf-idf weight per n-gram key. */
  weights: Map<string, number>;
  /** Euclidean norm per order (index = order − 1). */
  norms: number[];
  /** Bigram count (see the module comment). */
  length: number;
}

export function ciderD(items: readonly ScoredCaption[], options: CiderOptions = {}): CiderResult {
  const n = options.n ?? 4;
  const sigma = options.sigma ?? 6;
  assertScorable(items, 'CIDEr-D');
  if (items.length === 0) throw new Error('CIDEr-D: no items to score');

  const refCounts = items.map((item) => item.references.map((r) => ngramCounts(r, n)));
  const documentFrequency = new Map<string, number>();
  for (const refs of refCounts) {
    const seen = new Set<string>();
    for (const counts of refs) for (const gram of counts.keys()) seen.add(gram);
    for (const gram of seen) documentFrequency.set(gram, (documentFrequency.get(gram) ?? 0) + 1);
  }
  const logImages = Math.log(items.length);

  const toVector = (counts: Map<string, number>): Vector => {
    const weights = new Map<string, number>();
    const squares = new Array<number>(n).fill(0);
    let length = 0;
    for (const [gram, termFrequency] of counts) {
      const order = ngramOrder(gram);
      const w = termFrequency * (logImages - Math.log(Math.max(1, documentFrequency.get(gram) ?? 0)));
      weights.set(gram, w);
      squares[order - 1] += w * w;
      if (order === 2) length += termFrequency;
    }
    return { weights, norms: squares.map(Math.sqrt), length };
  };

  const similarity = (hyp: Vector, ref: Vector): number[] => {
    const delta = hyp.length - ref.length;
    const penalty = Math.exp(-(delta * delta) / (2 * sigma * sigma));
    const values = new Array<number>(n).fill(0);
    for (const [gram, h] of hyp.weights) {
      const r = ref.weights.get(gram) ?? 0;
      values[ngramOrder(gram) - 1] += Math.min(h, r) * r;
    }
    for (let k = 0; k < n; k++) {
      if (hyp.norms[k] !== 0 && ref.norms[k] !== 0) values[k] /= hyp.norms[k] * ref.norms[k];
      values[k] *= penalty;
    }
    return values;
  };

  const perItem = items.map((item, i) => {
    const hyp = toVector(ngramCounts(item.candidate, n));
    const sums = new Array<number>(n).fill(0);
    for (const counts of refCounts[i]) {
      const sim = similarity(hyp, toVector(counts));
      for (let k = 0; k < n; k++) sums[k] += sim[k];
    }
    const meanOverOrders = sums.reduce((a, b) => a + b, 0) / n;
    return (meanOverOrders / item.references.length) * 10;
  });
  return { score: perItem.reduce((a, b) => a + b, 0) / perItem.length, perItem };
}
