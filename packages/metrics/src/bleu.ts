import { assertScorable, ngramCounts, ngramOrder, type ScoredCaption } from './ngrams.js';

/**
 * Corpus BLEU exactly as pycocoevalcap computes it (bleu_scorer.py, `compute_score(option='closest')`):
 * clipped n-gram matches and candidate n-gram counts are summed over the whole corpus, the brevity
 * penalty compares the total candidate length with the sum of each image's *closest* reference
 * length (ties go to the shorter reference), and BLEU-n is the geometric mean of the
 * 1..n precisions. The `tiny`/`small` constants are bleu_scorer's: they keep a zero-match corpus
 * at ~0 instead of dividing by zero, and make the scores differ from the exact fractions only
 * far below the printed precision.
 */
const SMALL = 1e-9;
const TINY = 1e-15;

export interface BleuStats {
  /** Candidate length (tokens). */
  testLength: number;
  /** Closest reference length. */
  referenceLength: number;
  /** Candidate n-grams of order k+1 (bleu_scorer `guess`). */
  guess: number[];
  /** Clipped matches of order k+1 (bleu_scorer `correct`). */
  correct: number[];
}

export interface BleuResult {
  /** BLEU-1..BLEU-maxN over the corpus, in 0..1. */
  bleu: number[];
  /** Sentence-level BLEU-1..maxN per item (bleu_scorer's `bleu_list`, transposed). */
  perItem: number[][];
  testLength: number;
  referenceLength: number;
  /** testLength / referenceLength (with bleu_scorer's constants). */
  ratio: number;
}

/** Reference length closest to the candidate's; on a tie the shorter one (Python tuple `min`). */
export function closestReferenceLength(testLength: number, referenceLengths: readonly number[]): number {
  let best = referenceLengths[0];
  for (const l of referenceLengths) {
    const d = Math.abs(l - testLength);
    const bestD = Math.abs(best - testLength);
    if (d < bestD || (d === bestD && l < best)) best = l;
  }
  return best;
}

/** Per-image statistics (bleu_scorer `cook_refs` + `cook_test`). */
export function bleuStats(item: ScoredCaption, maxN = 4): BleuStats {
  const refMax = new Map<string, number>();
  for (const ref of item.references) {
    for (const [gram, count] of ngramCounts(ref, maxN)) refMax.set(gram, Math.max(refMax.get(gram) ?? 0, count));
  }
  const testLength = item.candidate.length;
  const correct = new Array<number>(maxN).fill(0);
  for (const [gram, count] of ngramCounts(item.candidate, maxN)) {
    correct[ngramOrder(gram) - 1] += Math.min(refMax.get(gram) ?? 0, count);
  }
  return {
    testLength,
    referenceLength: closestReferenceLength(
      testLength,
      item.references.map((r) => r.length),
    ),
    guess: Array.from({ length: maxN }, (_, k) => Math.max(0, testLength - k)),
    correct,
  };
}

/** A candidate's n-gram counts, prepared once to be compared with many documents (see {@link bleuScorer}). */
export interface BleuCandidate {
  readonly length: number;
  readonly counts: ReadonlyMap<string, number>;
}

/**
 * BLEU statistics against a fixed set of documents (each one image's tokenized references), with each
 * document's maximum reference n-gram counts computed once: for scoring many candidates against the
 * same split (e.g. choosing a constant caption). `stats(c, i)` equals `bleuStats({ candidate: c,
 * references: documents[i] })`; `corpusBleuFromStats` sums them the way `corpusBleu` does.
 */
export interface BleuScorer {
  readonly documents: number;
  candidate(tokens: readonly string[]): BleuCandidate;
  stats(candidate: readonly string[] | BleuCandidate, index: number): BleuStats;
}

export function bleuScorer(documents: readonly (readonly (readonly string[])[])[], maxN = 4): BleuScorer {
  documents.forEach((refs, i) => {
    if (refs.length === 0) throw new Error(`BLEU: item ${i} has no references`);
  });
  const refMax = documents.map((refs) => {
    const max = new Map<string, number>();
    for (const ref of refs) for (const [gram, count] of ngramCounts(ref, maxN)) max.set(gram, Math.max(max.get(gram) ?? 0, count));
    return max;
  });
  const refLengths = documents.map((refs) => refs.map((r) => r.length));
  const candidate = (tokens: readonly string[]): BleuCandidate => ({ length: tokens.length, counts: ngramCounts(tokens, maxN) });
  return {
    documents: documents.length,
    candidate,
    stats(c, index) {
      if (!(index >= 0 && index < documents.length)) throw new RangeError(`BLEU: document ${index} of ${documents.length}`);
      const prepared = Array.isArray(c) ? candidate(c as readonly string[]) : (c as BleuCandidate);
      const correct = new Array<number>(maxN).fill(0);
      const max = refMax[index];
      for (const [gram, count] of prepared.counts) correct[ngramOrder(gram) - 1] += Math.min(max.get(gram) ?? 0, count);
      return {
        testLength: prepared.length,
        referenceLength: closestReferenceLength(prepared.length, refLengths[index]),
        guess: Array.from({ length: maxN }, (_, k) => Math.max(0, prepared.length - k)),
        correct,
      };
    },
  };
}

/** Corpus BLEU-1..maxN from per-image statistics (summed, then combined), as `corpusBleu`. */
export function corpusBleuFromStats(stats: readonly BleuStats[]): number[] {
  if (stats.length === 0) throw new Error('BLEU: no items to score');
  const maxN = stats[0].guess.length;
  const guess = new Array<number>(maxN).fill(0);
  const correct = new Array<number>(maxN).fill(0);
  let testLength = 0;
  let referenceLength = 0;
  for (const s of stats) {
    testLength += s.testLength;
    referenceLength += s.referenceLength;
    for (let k = 0; k < maxN; k++) {
      guess[k] += s.guess[k];
      correct[k] += s.correct[k];
    }
  }
  return combine(correct, guess, testLength, referenceLength);
}

/** Cumulative geometric means of the precisions, times the brevity penalty. */
function combine(correct: readonly number[], guess: readonly number[], testLength: number, referenceLength: number): number[] {
  const scores: number[] = [];
  let product = 1;
  for (let k = 0; k < correct.length; k++) {
    product *= (correct[k] + TINY) / (guess[k] + SMALL);
    scores.push(product ** (1 / (k + 1)));
  }
  const ratio = (testLength + TINY) / (referenceLength + SMALL);
  if (ratio < 1) {
    const penalty = Math.exp(1 - 1 / ratio);
    for (let k = 0; k < scores.length; k++) scores[k] *= penalty;
  }
  return scores;
}

export function corpusBleu(items: readonly ScoredCaption[], maxN = 4): BleuResult {
  assertScorable(items, 'BLEU');
  if (items.length === 0) throw new Error('BLEU: no items to score');
  const guess = new Array<number>(maxN).fill(0);
  const correct = new Array<number>(maxN).fill(0);
  let testLength = 0;
  let referenceLength = 0;
  const perItem: number[][] = [];
  for (const item of items) {
    const s = bleuStats(item, maxN);
    testLength += s.testLength;
    referenceLength += s.referenceLength;
    for (let k = 0; k < maxN; k++) {
      guess[k] += s.guess[k];
      correct[k] += s.correct[k];
    }
    perItem.push(combine(s.correct, s.guess, s.testLength, s.referenceLength));
  }
  return {
    bleu: combine(correct, guess, testLength, referenceLength),
    perItem,
    testLength,
    referenceLength,
    ratio: (testLength + TINY) / (referenceLength + SMALL),
  };
}
