import type { CommandModule } from 'yargs';
import { runHandler, stageContext, withCommonOptions, type CommonArgs } from '@captioner/core';
import { runTokenize } from './tokenize.js';

export const tokenizeCommand: CommandModule<object, CommonArgs> = {
  command: 'tokenize',
  describe: 'Keras-style tokenizer fit on the training split → tokens.arrow + vocab.json',
  builder: (y) => withCommonOptions(y),
  handler: runHandler((argv: CommonArgs) => {
    const ctx = stageContext(argv);
    runTokenize({ cleanDir: ctx.dir('text-clean'), outDir: ctx.dir('tokenize'), config: ctx.config.tokenize });
  }),
};
