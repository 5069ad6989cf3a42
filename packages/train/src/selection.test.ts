import { describe, expect, it } from 'vitest';
import { parseConfig } from '@captioner/core';
import type { EpochMetrics } from './checkpoint.js';
import { bestSoFar, describeScore, learningRateForEpoch, scoreValidationCaptions, selectionScore } from './selection.js';

const epoch = (n: number, valLoss: number, valCider?: number): EpochMetrics => ({
  epoch: n,
  trainLoss: 4,
  valLoss,
  tokensPerSec: 1,
  epochSeconds: 1,
  lr: 1e-3,
  steps: 1,
  tokens: 1,
  gradNorm: 1,
  ...(valCider !== undefined ? { valCider } : {}),
});

const train = (over: Record<string, unknown>) => parseConfig({ train: over }).train;

describe('selection score', () => {
  it('valLoss: lower loss is a higher score; valCIDEr: the CIDEr-D itself', () => {
    expect(selectionScore(epoch(1, 3.5, 0.4), 'valLoss')).toBe(-3.5);
    expect(selectionScore(epoch(1, 3.5, 0.4), 'valCIDEr')).toBe(0.4);
    expect(selectionScore(epoch(1, 3.5), 'valCIDEr')).toBeNull();
    expect(describeScore(0.4123, 'valCIDEr')).toBe('val CIDEr-D 41.23');
    expect(describeScore(-3.5, 'valLoss')).toBe('val loss 3.5000');
  });

  it('bestSoFar follows CIDEr-D even when the loss rises (the Flickr8k case)', () => {
    const history = [epoch(1, 3.8, 0.3), epoch(2, 3.5, 0.38), epoch(3, 3.48, 0.41), epoch(4, 3.5, 0.45), epoch(5, 3.55, 0.44)];
    expect(bestSoFar(history, 'valCIDEr')).toEqual({ epoch: 4, score: 0.45, epochsWithoutImprovement: 1 });
    expect(bestSoFar(history, 'valLoss')).toEqual({ epoch: 3, score: -3.48, epochsWithoutImprovement: 2 });
  });
});

describe('learningRateForEpoch', () => {
  const history = [epoch(1, 3.8, 0.3), epoch(2, 3.5, 0.35), epoch(3, 3.5, 0.34), epoch(4, 3.5, 0.33), epoch(5, 3.5, 0.36), epoch(6, 3.5, 0.2)];

  it('constant is the tutorial rate at every epoch', () => {
    const cfg = train({ learningRate: 1e-3, lrSchedule: { kind: 'constant' } });
    for (let e = 1; e <= 7; e++) expect(learningRateForEpoch(e, history, cfg)).toBe(1e-3);
  });

  it('step halves every `every` epochs, floored at minLearningRate', () => {
    const cfg = train({ learningRate: 4e-4, lrSchedule: { kind: 'step', factor: 0.5, every: 2, minLearningRate: 1e-4 } });
    expect([1, 2, 3, 4, 5, 6, 7].map((e) => learningRateForEpoch(e, [], cfg))).toEqual([4e-4, 4e-4, 2e-4, 2e-4, 1e-4, 1e-4, 1e-4]);
  });

  it('plateau decays after `every` epochs without a better selection score, counting from the last decay', () => {
    const cfg = train({ learningRate: 1e-3, selectBy: 'valCIDEr', lrSchedule: { kind: 'plateau', factor: 0.5, every: 2, minLearningRate: 0 } });
    // Epochs 3 and 4 do not beat epoch 2 → decay before epoch 5; epoch 5 improves; 6 does not (1 < 2).
    expect([1, 2, 3, 4, 5, 6, 7].map((e) => learningRateForEpoch(e, history, cfg))).toEqual([1e-3, 1e-3, 1e-3, 1e-3, 5e-4, 5e-4, 5e-4]);
    // By validation loss nothing improves after epoch 2: decays before epochs 5 and 7.
    const byLoss = { ...cfg, selectBy: 'valLoss' as const };
    expect([3, 4, 5, 6, 7].map((e) => learningRateForEpoch(e, history, byLoss))).toEqual([1e-3, 1e-3, 5e-4, 5e-4, 2.5e-4]);
  });
});

describe('scoreValidationCaptions', () => {
  const references = new Map([
    ['a.jpg', ['A dog runs on the grass .', 'a dog running on grass', 'The dog runs across a lawn .']],
    ['b.jpg', ['Two children play in the snow .', 'kids playing in snow', 'two kids play in the snow']],
  ]);

  it('scores like the COCO evaluation (PTB tokens, raw references) and reports length and capped share', () => {
    const good = scoreValidationCaptions(
      new Map([
        ['a.jpg', { words: ['a', 'dog', 'runs', 'on', 'the', 'grass'], finished: true }],
        ['b.jpg', { words: ['two', 'children', 'play', 'in', 'the', 'snow'], finished: true }],
      ]),
      references,
    );
    // Both candidates equal a reference exactly: every n-gram matches, lengths equal → BLEU-4 = 1.
    expect(good.bleu4).toBeCloseTo(1, 6);
    expect(good.meanWords).toBe(6);
    expect(good.capped).toBe(0);
    const swapped = scoreValidationCaptions(
      new Map([
        ['a.jpg', { words: ['two', 'children', 'play', 'in', 'the', 'snow'], finished: false }],
        ['b.jpg', { words: ['a', 'dog', 'runs', 'on', 'the', 'grass'], finished: true }],
      ]),
      references,
    );
    expect(swapped.cider).toBeLessThan(good.cider / 4);
    expect(swapped.capped).toBe(0.5);
  });

  it('names an image without references', () => {
    expect(() => scoreValidationCaptions(new Map([['c.jpg', { words: ['x'], finished: true }]]), references)).toThrow(/c\.jpg/);
  });
});
