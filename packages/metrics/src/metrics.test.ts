import { describe, expect, it } from 'vitest';
import {
  ciderD,
  ciderDScorer,
  bleuScorer,
  corpusBleuFromStats,
  closestReferenceLength,
  cocoTokenize,
  corpusBleu,
  lcsLength,
  rougeL,
  rougeLItem,
  scoreCaptions,
  type ScoredCaption,
} from './index.js';

const w = (s: string) => s.split(' ').filter((t) => t.length > 0);
const item = (candidate: string, ...references: string[]): ScoredCaption => ({
  candidate: w(candidate),
  references: references.map(w),
});

describe('cocoTokenize (PTBTokenizer -lowerCase + COCO punctuation removal)', () => {
  it('lowercases and drops punctuation tokens', () => {
    expect(cocoTokenize('A child in a pink dress is climbing up a set of stairs in an entry way .')).toEqual(
      w('a child in a pink dress is climbing up a set of stairs in an entry way'),
    );
    expect(cocoTokenize('Two dogs, one black; one white: playing!')).toEqual(w('two dogs one black one white playing'));
  });
  it('splits clitics like PTB and keeps hyphenated words, decimals and times', () => {
    expect(cocoTokenize("The dog's ball, isn't it?")).toEqual(['the', 'dog', "'s", 'ball', 'is', "n't", 'it']);
    expect(cocoTokenize('A black-and-white dog (running) - fast...')).toEqual(w('a black-and-white dog running fast'));
    expect(cocoTokenize('It is 3.5 feet at 10:30 in the U.S.')).toEqual(w('it is 3.5 feet at 10:30 in the u.s.'));
    expect(cocoTokenize('He said "hello" to the kids\' dog')).toEqual(w('he said hello to the kids dog'));
  });
  it('treats an already-tokenized Flickr8k caption and its raw form alike', () => {
    expect(cocoTokenize("A man 's hat .")).toEqual(cocoTokenize("A man's hat."));
  });
});

describe('corpus BLEU (bleu_scorer, option closest)', () => {
  it('clips candidate counts by the reference maximum and applies the brevity penalty', () => {
    // candidate "the the the the" (4 words), reference "the cat is on the mat" (6 words).
    // unigrams: "the" x4 in the candidate, at most 2 in the reference -> clipped 2/4 = 0.5
    // bigrams: "the the" x3, none in the reference -> 0/3
    // brevity: closest reference length 6, ratio 4/6 < 1 -> BP = exp(1 - 6/4) = exp(-0.5) = 0.6065307
    // BLEU-1 = 0.5 * 0.6065307 = 0.3032653
    // BLEU-2 = sqrt(0.5 * (0 + 1e-15)/(3 + 1e-9)) * BP = sqrt(1.6667e-16) * 0.6065307 = 1.2910e-8 * 0.6065 = 7.830e-9
    //   (bleu_scorer's `tiny` keeps it a hair above zero; we match that, not an exact 0)
    const r = corpusBleu([item('the the the the', 'the cat is on the mat')]);
    expect(r.bleu[0]).toBeCloseTo(0.3032653, 6);
    expect(r.bleu[1]).toBeGreaterThan(0);
    expect(r.bleu[1]).toBeCloseTo(7.83e-9, 10);
    expect(r.testLength).toBe(4);
    expect(r.referenceLength).toBe(6);
  });

  it('uses the closest reference length, the shorter one on a tie', () => {
    // lengths 9, 4, 6 for a 5-word candidate: |9-5|=4, |4-5|=1, |6-5|=1 -> tie between 4 and 6 -> 4
    expect(closestReferenceLength(5, [9, 4, 6])).toBe(4);
    expect(closestReferenceLength(5, [6, 4])).toBe(4);
    expect(closestReferenceLength(5, [7, 2])).toBe(7); // |7-5|=2 < |2-5|=3
    // Candidate "a dog runs on grass" (5) against
    //   R1 "a dog runs fast" (4), R2 "the dog runs on green grass" (6), R3 "a small brown dog is running on the grass" (9)
    // closest length 4 (tie with 6) -> ratio 5/4 >= 1 -> no brevity penalty.
    // 1-grams: a, dog, runs, on, grass all in some reference -> 5/5
    // 2-grams: "a dog"(R1) "dog runs"(R1,R2) "runs on"(R2) "on grass"(none) -> 3/4
    // 3-grams: "a dog runs"(R1) "dog runs on"(R2) "runs on grass"(none) -> 2/3
    // 4-grams: "a dog runs on", "dog runs on grass" -> 0/2
    // BLEU-1 = 1, BLEU-2 = sqrt(3/4) = 0.8660254, BLEU-3 = (1 * 3/4 * 2/3)^(1/3) = 0.5^(1/3) = 0.7937005, BLEU-4 ~ 0
    // (Had the longer tied reference 6 been used: BP = exp(1 - 6/5) = 0.8187 would scale every score.)
    const r = corpusBleu([item('a dog runs on grass', 'a dog runs fast', 'the dog runs on green grass', 'a small brown dog is running on the grass')]);
    expect(r.referenceLength).toBe(4);
    expect(r.bleu[0]).toBeCloseTo(1, 8);
    expect(r.bleu[1]).toBeCloseTo(0.8660254, 6);
    expect(r.bleu[2]).toBeCloseTo(0.7937005, 6);
    expect(r.bleu[3]).toBeLessThan(1e-3);
  });

  it('sums counts over the corpus before taking precisions (not a mean of sentence scores)', () => {
    // The two images above together:
    //   test length 4 + 5 = 9, reference length 6 + 4 = 10 -> ratio 0.9 -> BP = exp(1 - 10/9) = exp(-1/9) = 0.8948393
    //   1-grams (2 + 5)/(4 + 5) = 7/9; 2-grams (0 + 3)/(3 + 4) = 3/7; 3-grams (0 + 2)/(2 + 3) = 2/5
    //   BLEU-1 = 7/9 * BP = 0.7777778 * 0.8948393 = 0.6959861
    //   BLEU-2 = sqrt(7/9 * 3/7) * BP = sqrt(1/3) * BP = 0.5773503 * 0.8948393 = 0.5166357
    //   BLEU-3 = (7/9 * 3/7 * 2/5)^(1/3) * BP = (2/15)^(1/3) * BP = 0.5108730 * 0.8948393 = 0.4571492
    const r = corpusBleu([
      item('the the the the', 'the cat is on the mat'),
      item('a dog runs on grass', 'a dog runs fast', 'the dog runs on green grass', 'a small brown dog is running on the grass'),
    ]);
    expect(r.bleu[0]).toBeCloseTo(0.6959861, 6);
    expect(r.bleu[1]).toBeCloseTo(0.5166357, 6);
    expect(r.bleu[2]).toBeCloseTo(0.4571492, 6);
    // Sentence-level scores are kept per item: image 1's BLEU-1 is 0.3032653 as above.
    expect(r.perItem[0][0]).toBeCloseTo(0.3032653, 6);
    expect((r.perItem[0][0] + r.perItem[1][0]) / 2).not.toBeCloseTo(r.bleu[0], 2);
  });
});

describe('bleuScorer (fixed references)', () => {
  it('gives the same statistics and corpus scores as corpusBleu, with a reusable candidate', () => {
    // The two-image corpus worked out above: BLEU-1..3 = 0.6959861, 0.5166357, 0.4571492.
    const docs = [[w('the cat is on the mat')], [w('a dog runs fast'), w('the dog runs on green grass'), w('a small brown dog is running on the grass')]];
    const scorer = bleuScorer(docs);
    const stats = [scorer.stats(w('the the the the'), 0), scorer.stats(scorer.candidate(w('a dog runs on grass')), 1)];
    expect(stats[0]).toEqual({ testLength: 4, referenceLength: 6, guess: [4, 3, 2, 1], correct: [2, 0, 0, 0] });
    expect(stats[1]).toEqual({ testLength: 5, referenceLength: 4, guess: [5, 4, 3, 2], correct: [5, 3, 2, 0] });
    const bleu = corpusBleuFromStats(stats);
    expect(bleu[0]).toBeCloseTo(0.6959861, 6);
    expect(bleu[1]).toBeCloseTo(0.5166357, 6);
    expect(bleu[2]).toBeCloseTo(0.4571492, 6);
    expect(() => scorer.stats(w('a'), 2)).toThrow(/document 2 of 2/);
    expect(() => bleuScorer([[]])).toThrow(/item 0 has no references/);
  });
});

describe('CIDEr-D (cider_scorer)', () => {
  it('scores two images with tf-idf over the evaluated references and the length penalty', () => {
    // Images A (ref "a dog runs", cand "a dog runs") and B (ref "a cat sits", cand "a cat").
    // 2 images -> log(#images) = log 2 = L. "a" is in both images' references: weight L - log 2 = 0.
    // Every other n-gram has df = 1: weight tf * (L - log 1) = L.
    // A: cand = ref. order 1 {a:0, dog:L, runs:L}: sum min(h,r)*r = 2L^2, norms sqrt2 L each -> 1
    //    order 2 {a dog, dog runs}: 1; order 3 {a dog runs}: 1; order 4: no n-grams, norm 0 -> 0
    //    bigram counts equal -> penalty 1. (1+1+1+0)/4 / 1 ref * 10 = 7.5
    // B: order 1 cand {a:0, cat:L} (norm L), ref {a:0, cat:L, sits:L} (norm sqrt2 L): L^2/(sqrt2 L^2) = 0.7071068
    //    order 2 cand {a cat} ref {a cat, cat sits}: 0.7071068; orders 3, 4: candidate norm 0 -> 0
    //    bigrams 1 vs 2 -> delta -1 -> penalty exp(-1/(2*36)) = 0.9862071
    //    (0.7071068 * 2 * 0.9862071)/4 * 10 = 1.3947075/4 * 10 = 3.4867687
    // corpus = (7.5 + 3.4867687)/2 = 5.4933843
    const r = ciderD([item('a dog runs', 'a dog runs'), item('a cat', 'a cat sits')]);
    expect(r.perItem[0]).toBeCloseTo(7.5, 6);
    expect(r.perItem[1]).toBeCloseTo(3.4867687, 6);
    expect(r.score).toBeCloseTo(5.4933843, 6);
  });

  it('clips candidate tf-idf weights at the reference weights', () => {
    // A: cand "dog dog", ref "dog runs"; B: cand "cat", ref "cat sits". All n-grams have df 1 -> weight tf*L.
    // A order 1: cand {dog: 2L} (norm 2L), ref {dog: L, runs: L} (norm sqrt2 L)
    //    clipped: min(2L, L) * L = L^2 -> L^2 / (2L * sqrt2 L) = 1/(2 sqrt2) = 0.3535534
    //    (unclipped would be 2L^2 / (2 sqrt2 L^2) = 0.7071068)
    //    order 2: "dog dog" not in ref -> 0; orders 3, 4 -> 0; bigrams 1 vs 1 -> penalty 1
    //    0.3535534 / 4 * 10 = 0.8838835
    // B order 1: L^2 / (L * sqrt2 L) = 0.7071068; order 2: cand has no bigram -> 0; bigrams 0 vs 1 -> exp(-1/72)
    //    0.7071068 * 0.9862071 / 4 * 10 = 0.6973537 / 4 * 10 = 1.7433843
    const r = ciderD([item('dog dog', 'dog runs'), item('cat', 'cat sits')]);
    expect(r.perItem[0]).toBeCloseTo(0.8838835, 6);
    expect(r.perItem[1]).toBeCloseTo(1.7433843, 6);
  });

  it('averages over references and is 0 for a single image (idf = log 1 - log 1)', () => {
    // Duplicating A's reference leaves df unchanged (df counts images) and the mean over refs equal.
    const once = ciderD([item('a dog runs', 'a dog runs'), item('a cat', 'a cat sits')]);
    const twice = ciderD([item('a dog runs', 'a dog runs', 'a dog runs'), item('a cat', 'a cat sits')]);
    expect(twice.perItem[0]).toBeCloseTo(once.perItem[0], 10);
    expect(ciderD([item('a dog runs', 'a dog runs')]).score).toBe(0);
  });
});

describe('ciderDScorer (fixed document frequencies)', () => {
  it('gives ciderD per item, and scores other candidates and references with the same idf', () => {
    // The corpus of the first CIDEr-D case: docs A "a dog runs", B "a cat sits" (idf: a 0, others log 2).
    const docs = [[w('a dog runs')], [w('a cat sits')]];
    const scorer = ciderDScorer(docs);
    expect(scorer.documents).toBe(2);
    expect(scorer.scoreDocument(w('a dog runs'), 0)).toBeCloseTo(7.5, 10);
    expect(scorer.scoreDocument(w('a cat'), 1)).toBeCloseTo(3.4867687, 6);
    // "a cat" against A: only "a" is shared, and its weight is 0 -> 0.
    expect(scorer.scoreDocument(w('a cat'), 0)).toBe(0);
    // Free references use the corpus idf: "a cat" vs "a cat sits" is item B again; a vector can be reused.
    const v = scorer.vector(w('a cat'));
    expect(scorer.score(v, [w('a cat sits')])).toBeCloseTo(3.4867687, 6);
    expect(scorer.scoreDocument(v, 1)).toBeCloseTo(3.4867687, 6);
    // An n-gram unseen in the corpus (df 0 -> max(1, 0)) weighs log 2 like a df-1 n-gram: "a mouse" vs
    // "a mouse": unigram cos 1, bigram cos 1, no 3-/4-grams -> (1 + 1)/4 * 10 = 5.
    expect(scorer.score(w('a mouse'), [w('a mouse')])).toBeCloseTo(5, 10);
    expect(() => scorer.scoreDocument(w('a'), 2)).toThrow(/document 2 of 2/);
    expect(() => ciderDScorer([[w('a')], []])).toThrow(/item 1 has no references/);
  });
});

describe('ROUGE-L (rouge.py, beta 1.2)', () => {
  it('computes the LCS length', () => {
    // CLRS example: ABCBDAB vs BDCABA -> LCS length 4 (e.g. BCBA)
    expect(lcsLength(w('a b c b d a b'), w('b d c a b a'))).toBe(4);
    expect(lcsLength([], w('a b'))).toBe(0);
  });
  it('combines LCS precision and recall with beta = 1.2', () => {
    // cand "the cat sat on the mat" (6), ref "the cat on the mat" (5): LCS "the cat on the mat" = 5
    // P = 5/6, R = 5/5 = 1; F = (1 + 1.44) * P * R / (R + 1.44 * P) = 2.44 * 0.8333333 / (1 + 1.2) = 2.0333333 / 2.2 = 0.9242424
    expect(rougeLItem(item('the cat sat on the mat', 'the cat on the mat'))).toBeCloseTo(0.9242424, 6);
  });
  it('takes precision and recall maxima over references separately, as rouge.py does', () => {
    // cand (6 words) vs R1 "the cat sat on the mat today in the sun" (10): LCS 6 -> P = 1, R = 0.6
    //               vs R2 "cat sat" (2): LCS 2 -> P = 2/6, R = 1
    // P_max = 1, R_max = 1 -> F = 2.44 / 2.44 = 1 (a per-reference F would give max(0.7176, 0.5495))
    const r = rougeL([item('the cat sat on the mat', 'the cat sat on the mat today in the sun', 'cat sat')]);
    expect(r.score).toBeCloseTo(1, 10);
    expect(rougeLItem(item('dog', 'a cat'))).toBe(0);
    expect(rougeLItem(item('', 'a cat'))).toBe(0);
  });
});

describe('scoreCaptions', () => {
  it('reports every metric, perfect for candidates equal to all references', () => {
    const items = [item('a dog runs on the grass', 'a dog runs on the grass'), item('two cats sit on a red mat', 'two cats sit on a red mat')];
    const r = scoreCaptions(items);
    for (const k of ['BLEU-1', 'BLEU-2', 'BLEU-3', 'BLEU-4', 'ROUGE-L'] as const) expect(r.corpus[k]).toBeCloseTo(1, 6);
    // "on" is shared by both images (idf 0) but every order still matches exactly -> 10 per image.
    expect(r.corpus['CIDEr-D']).toBeCloseTo(10, 6);
    expect(r.perItem).toHaveLength(2);
  });
  it('rejects an item without references', () => {
    expect(() => scoreCaptions([{ candidate: ['a'], references: [] }])).toThrow(/no references/);
  });
});
