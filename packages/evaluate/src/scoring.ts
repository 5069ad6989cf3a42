import { cleanWords } from '@captioner/text-clean';
import { cocoTokenize, METRIC_NAMES, type CaptionScores } from '@captioner/metrics';
import { round } from './outputs.js';

/** A reference as the model's training captions were cleaned (text-clean), then PTB-tokenized like every candidate. */
export function cleanedReferenceTokens(reference: string): string[] {
  return cocoTokenize(cleanWords(reference).join(' '));
}

/** Scores x100 (2 decimals), as papers print them. */
export const times100 = (scores: CaptionScores): CaptionScores =>
  Object.fromEntries(METRIC_NAMES.map((k) => [k, round(scores[k] * 100, 2)])) as unknown as CaptionScores;
