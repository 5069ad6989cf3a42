import type { Stage } from '@captioner/core';
import { runTokenize } from './tokenize.js';

export const stage: Stage = {
  name: 'tokenize',
  describe: 'Keras-style tokenizer fit on the training split → tokens.arrow + vocab.json',
  run: async (ctx) => {
    await runTokenize({ cleanDir: ctx.dir('text-clean'), outDir: ctx.dir('tokenize'), config: ctx.config.tokenize });
  },
};
