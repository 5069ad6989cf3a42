import type { Stage } from '@captioner/core';
import { runViz } from './run.js';

export const stage: Stage = {
  name: 'viz',
  describe: 'Figures (dataset sample, training curves, attention per word) as PNGs + a self-contained HTML report',
  run: async (ctx) => {
    await runViz({
      root: ctx.root,
      ingestDir: ctx.dir('ingest'),
      featurizeDir: ctx.dir('featurize'),
      trainDir: ctx.dir('train'),
      evaluateDir: ctx.dir('evaluate'),
      outDir: ctx.dir('viz'),
      config: ctx.config.viz,
    });
  },
};
