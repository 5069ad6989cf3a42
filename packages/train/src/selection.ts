/**
 * What "best epoch" means, and the learning rate of each epoch.
 *
 * Validation loss is a poor proxy for caption quality here: on Flickr8k it bottoms out at epoch 3
 * while the captions keep improving for several more epochs. With `selectBy: 'valCIDEr'` every
 * epoch greedily captions the validation images and scores them with CIDEr-D against the raw
 * references (the metric `evaluate` reports), and that score picks the checkpoint, drives early
 * stopping and the plateau learning-rate schedule. Everything here is a pure function of the run's
 * history, so a resumed run makes the same decisions.
 */
import { CaptionerError, type TrainConfig } from '@captioner/core';
import { cocoTokenize, corpusBleu, ciderD, type ScoredCaption } from '@captioner/metrics';
import type { EpochMetrics } from './checkpoint.js';

export type SelectionMetric = TrainConfig['selectBy'];

/** The epoch's selection score, higher is better (−loss for the loss criteria); null when not measured. */
export function selectionScore(m: EpochMetrics, by: SelectionMetric): number | null {
  if (by === 'valCIDEr') return m.valCider ?? null;
  const loss = m.valLoss ?? m.trainLoss;
  return Number.isFinite(loss) ? -loss : null;
}

/** Human-readable criterion value (e.g. "val CIDEr-D 41.20" or "val loss 3.4790"). */
export function describeScore(score: number, by: SelectionMetric): string {
  return by === 'valCIDEr' ? `val CIDEr-D ${(score * 100).toFixed(2)}` : `val loss ${(-score).toFixed(4)}`;
}

/** Best epoch so far and how many epochs have passed without beating it. */
export function bestSoFar(history: readonly EpochMetrics[], by: SelectionMetric): { epoch: number; score: number; epochsWithoutImprovement: number } | null {
  let best: { epoch: number; score: number } | null = null;
  let since = 0;
  for (const m of history) {
    const s = selectionScore(m, by);
    if (s !== null && (best === null || s > best.score)) {
      best = { epoch: m.epoch, score: s };
      since = 0;
    } else since++;
  }
  return best && { ...best, epochsWithoutImprovement: since };
}

/**
 * Learning rate for `epoch` (1-based) given the finished epochs before it:
 * - constant: learningRate;
 * - step: × factor every `every` epochs (epochs 1..every at the base rate);
 * - plateau: × factor each time `every` epochs in a row did not improve the selection score
 *   (Show, Attend and Tell implementations decay on a BLEU/CIDEr plateau);
 * never below minLearningRate.
 */
export function learningRateForEpoch(epoch: number, history: readonly EpochMetrics[], cfg: Pick<TrainConfig, 'learningRate' | 'lrSchedule' | 'selectBy'>): number {
  const { kind, factor, every, minLearningRate } = cfg.lrSchedule;
  let lr = cfg.learningRate;
  if (kind === 'step') lr *= Math.pow(factor, Math.floor((epoch - 1) / every));
  else if (kind === 'plateau') {
    let best: number | null = null;
    let since = 0;
    for (const m of history) {
      if (m.epoch >= epoch) break;
      const s = selectionScore(m, cfg.selectBy);
      if (s !== null && (best === null || s > best)) {
        best = s;
        since = 0;
      } else if (++since >= every) {
        lr *= factor;
        since = 0;
      }
    }
  }
  return Math.max(lr, Math.min(minLearningRate, cfg.learningRate));
}

/** Caption-quality scores of one validation pass (0–1 scale; CIDEr-D as pycocoevalcap returns it). */
export interface CaptionQuality {
  cider: number;
  bleu4: number;
  /** Mean words per caption and the share that ran into the length cap without <eos>. */
  meanWords: number;
  capped: number;
  images: number;
}

/**
 * Scores greedy captions against the raw references, COCO-style (PTB tokenization of both sides,
 * CIDEr-D with the split's own document frequencies, corpus BLEU-4).
 */
export function scoreValidationCaptions(
  captions: ReadonlyMap<string, { words: readonly string[]; finished: boolean }>,
  references: ReadonlyMap<string, readonly string[]>,
): CaptionQuality {
  const items: ScoredCaption[] = [];
  let words = 0;
  let capped = 0;
  for (const [image, c] of captions) {
    const refs = references.get(image);
    if (!refs) throw new CaptionerError(`validation captions: image ${image} has no reference captions in ingest's captions.arrow`);
    items.push({ candidate: cocoTokenize(c.words.join(' ')), references: refs.map(cocoTokenize) });
    words += c.words.length;
    if (!c.finished) capped++;
  }
  if (items.length === 0) return { cider: 0, bleu4: 0, meanWords: 0, capped: 0, images: 0 };
  return {
    cider: ciderD(items).score,
    bleu4: corpusBleu(items, 4).bleu[3],
    meanWords: words / items.length,
    capped: capped / items.length,
    images: items.length,
  };
}
