import type { Stage } from '@captioner/core';
import { runTextClean } from './clean.js';

export const stage: Stage = {
  name: 'text-clean',
  describe: 'Lowercase, strip punctuation, keep alphabetic words (of 2+ letters by default), wrap in <sos> … <eos>',
  run: async (ctx) => {
    runTextClean({ ingestDir: ctx.dir('ingest'), outDir: ctx.dir('text-clean'), minWordLength: ctx.config.textClean.minWordLength });
  },
};
