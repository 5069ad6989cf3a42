import { assertScorable, type ScoredCaption } from './ngrams.js';

/**
 * ROUGE-L as in pycocoevalcap's rouge.py: LCS length against each reference gives a precision
 * (LCS / candidate length) and a recall (LCS / reference length); the *maximum* precision and the
 * maximum recall over the references (taken separately, as rouge.py does) combine into
 * F = (1 + β²)·P·R / (R + β²·P) with β = 1.2; the corpus score is the mean over images.
 */

export interface RougeResult {
  score: number;
  perItem: number[];
}

/** Length of the longest common subsequence (dynamic programming over two rows). */
export function lcsLength(a: readonly string[], b: readonly string[]): number {
  let previous = new Array<number>(b.length + 1).fill(0);
  let current = new Array<number>(b.length + 1).fill(0);
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      current[j] = a[i - 1] === b[j - 1] ? previous[j - 1] + 1 : Math.max(previous[j], current[j - 1]);
    }
    [previous, current] = [current, previous];
  }
  return previous[b.length];
}

// rouge.py splits with split(" "), so an empty caption is one empty token, not zero tokens.
const asSplit = (words: readonly string[]): readonly string[] => (words.length === 0 ? [''] : words);

export function rougeLItem(item: ScoredCaption, beta = 1.2): number {
  const candidate = asSplit(item.candidate);
  let precisionMax = 0;
  let recallMax = 0;
  for (const rawRef of item.references) {
    const ref = asSplit(rawRef);
    const lcs = lcsLength(ref, candidate);
    precisionMax = Math.max(precisionMax, lcs / candidate.length);
    recallMax = Math.max(recallMax, lcs / ref.length);
  }
  if (precisionMax === 0 || recallMax === 0) return 0;
  return ((1 + beta ** 2) * precisionMax * recallMax) / (recallMax + beta ** 2 * precisionMax);
}

export function rougeL(items: readonly ScoredCaption[], beta = 1.2): RougeResult {
  assertScorable(items, 'ROUGE-L');
  if (items.length === 0) throw new Error('ROUGE-L: no items to score');
  const perItem = items.map((item) => rougeLItem(item, beta));
  return { score: perItem.reduce((a, b) => a + b, 0) / perItem.length, perItem };
}
