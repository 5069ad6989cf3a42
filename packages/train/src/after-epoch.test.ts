import { describe, expect, it } from 'vitest';
import type { EpochMetrics, TrainState } from './checkpoint.js';
import { afterEpoch } from './train.js';

const metrics = (epoch: number, valLoss: number | null, valCider?: number): EpochMetrics => ({
  epoch,
  trainLoss: 3,
  valLoss,
  tokensPerSec: 1,
  epochSeconds: 1,
  lr: 1e-3,
  steps: 13,
  tokens: 100,
  gradNorm: 1,
  ...(valCider !== undefined ? { valCider, valBleu4: 0.1, valMeanWords: 9, valCapped: 0 } : {}),
});

const start: TrainState = {
  version: 1,
  epoch: 1,
  batchesDone: 5,
  epochBatches: 13,
  globalStep: 18,
  seed: 31,
  orderFingerprint: 'f',
  partial: { lossSum: 9, tokens: 3, gradNormSum: 2, trainSeconds: 1, wallSeconds: 1 },
  history: [],
  best: null,
  epochsWithoutImprovement: 0,
  savedAt: '',
};

describe('afterEpoch (selection and bookkeeping after a finished epoch)', () => {
  it('appends the metrics, closes the epoch and keeps the lowest validation loss as best', () => {
    const one = afterEpoch(start, metrics(1, 2.5), 'valLoss', false);
    expect(one.improved).toBe(true);
    expect(one.state).toMatchObject({ epoch: 1, batchesDone: 13, epochBatches: 13, epochsWithoutImprovement: 0, globalStep: 18 });
    expect(one.state.partial).toEqual({ lossSum: 0, tokens: 0, gradNormSum: 0, trainSeconds: 0, wallSeconds: 0 });
    expect(one.state.best).toEqual({ epoch: 1, valLoss: 2.5, by: 'valLoss', score: -2.5 });
    const two = afterEpoch(one.state, metrics(2, 2.7), 'valLoss', false);
    expect(two.improved).toBe(false);
    expect(two.state.best).toEqual(one.state.best);
    expect(two.state.epochsWithoutImprovement).toBe(1);
    expect(two.state.history.map((m) => m.epoch)).toEqual([1, 2]);
    // The input state is not changed.
    expect(start.history).toEqual([]);
  });

  it('selects by CIDEr-D only when the epoch has caption quality, else falls back to validation loss', () => {
    const cider = afterEpoch(start, metrics(1, 2.5, 0.3), 'valCIDEr', true);
    expect(cider.state.best).toEqual({ epoch: 1, valLoss: 2.5, by: 'valCIDEr', score: 0.3 });
    const lower = afterEpoch(cider.state, metrics(2, 2.0, 0.2), 'valCIDEr', true);
    expect(lower.improved).toBe(false);
    const fallback = afterEpoch(start, metrics(1, 2.5, 0.3), 'valCIDEr', false);
    expect(fallback.state.best?.by).toBe('valLoss');
  });

  it('without validation rows the training loss stands in; an epoch without any finite score never becomes best', () => {
    const none = afterEpoch(start, metrics(1, null), 'valLoss', false);
    expect(none.improved).toBe(true);
    expect(none.state.best).toEqual({ epoch: 1, valLoss: 3, by: 'valLoss', score: -3 });
    const scored = afterEpoch(start, metrics(1, 2.5), 'valLoss', false).state;
    const diverged = afterEpoch(scored, { ...metrics(2, Number.NaN), trainLoss: Number.NaN }, 'valLoss', false);
    expect(diverged.improved).toBe(false);
    expect(diverged.state.best?.epoch).toBe(1);
  });
});
