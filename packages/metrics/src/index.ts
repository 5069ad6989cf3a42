import { corpusBleu } from './bleu.js';
import { ciderD } from './cider.js';
import { rougeL } from './rouge.js';
import type { ScoredCaption } from './ngrams.js';

export { cocoTokenize, COCO_PUNCTUATIONS } from './tokenize.js';
export { corpusBleu, bleuStats, bleuScorer, corpusBleuFromStats, closestReferenceLength, type BleuResult, type BleuStats, type BleuScorer, type BleuCandidate } from './bleu.js';
export { ciderD, ciderDScorer, type CiderDScorer, type CiderVector, type CiderOptions, type CiderResult } from './cider.js';
export { rougeL, rougeLItem, lcsLength, type RougeResult } from './rouge.js';
export { ngramCounts, type ScoredCaption } from './ngrams.js';

/** Corpus scores on the 0–1 scale (CIDEr-D on its own 0–10 scale, as pycocoevalcap reports it). */
export interface CaptionScores {
  'BLEU-1': number;
  'BLEU-2': number;
  'BLEU-3': number;
  'BLEU-4': number;
  'CIDEr-D': number;
  'ROUGE-L': number;
}

export const METRIC_NAMES = ['BLEU-1', 'BLEU-2', 'BLEU-3', 'BLEU-4', 'CIDEr-D', 'ROUGE-L'] as const;

export interface ScoreReport {
  corpus: CaptionScores;
  /** Same metrics per item (BLEU per item is sentence-level BLEU with bleu_scorer's smoothing). */
  perItem: CaptionScores[];
  bleuLengths: { candidate: number; reference: number; ratio: number };
}

/** Every metric over already-tokenized captions (see `cocoTokenize`). METEOR is not computed. */
export function scoreCaptions(items: readonly ScoredCaption[]): ScoreReport {
  const bleu = corpusBleu(items, 4);
  const cider = ciderD(items);
  const rouge = rougeL(items);
  const pack = (b: number[], c: number, r: number): CaptionScores => ({
    'BLEU-1': b[0],
    'BLEU-2': b[1],
    'BLEU-3': b[2],
    'BLEU-4': b[3],
    'CIDEr-D': c,
    'ROUGE-L': r,
  });
  return {
    corpus: pack(bleu.bleu, cider.score, rouge.score),
    perItem: items.map((_, i) => pack(bleu.perItem[i], cider.perItem[i], rouge.perItem[i])),
    bleuLengths: { candidate: bleu.testLength, reference: bleu.referenceLength, ratio: bleu.ratio },
  };
}
