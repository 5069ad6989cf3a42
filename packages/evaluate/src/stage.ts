import { join } from 'node:path';
import type { Stage } from '@captioner/core';
import { initBackend } from '@captioner/tf';
import { runEvaluate } from './evaluate.js';

export const stage: Stage = {
  name: 'evaluate',
  describe: 'Decode a split (greedy + beam) with the trained model and score it (BLEU-1..4, CIDEr-D, ROUGE-L) → predictions.arrow, predictions.jsonl, metrics.json',
  run: async (ctx) => {
    await initBackend({ backend: ctx.config.backend });
    await runEvaluate({
      modelDir: join(ctx.dir('train'), 'model'),
      featurizeDir: ctx.dir('featurize'),
      ingestDir: ctx.dir('ingest'),
      outDir: ctx.dir('evaluate'),
      config: ctx.config.evaluate,
      minWordLength: ctx.config.textClean.minWordLength,
    });
  },
};
