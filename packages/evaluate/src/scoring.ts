import { cleanWords } from '@captioner/text-clean';
import { cocoTokenize, METRIC_NAMES, type CaptionScores } from '@captioner/metrics';
import { round } from './outputs.js';

/**
 * A reference as the model's training captions were cleaned (text-clean with the run's
 * minWordLength; 2 = the tutorial's rule), then PTB-tokenized like every candidate.
 */
export function cleanedReferenceTokens(reference: string, rule: { minWordLength?: number } = {}): string[] {
  // An options object, not a number, so `refs.map(cleanedReferenceTokens)` (index as 2nd argument) keeps the default.
  return cocoTokenize(cleanWords(reference, { minWordLength: rule.minWordLength }).join(' '));
}

/** Scores x100 (2 decimals), as papers print them. */
export const times100 = (scores: CaptionScores): CaptionScores => Object.fromEntries(METRIC_NAMES.map((k) => [k, round(scores[k] * 100, 2)])) as unknown as CaptionScores;
