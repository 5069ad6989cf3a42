import type { CommandModule } from 'yargs';
import { runHandler, stageContext, withCommonOptions, withStageLock, type CommonArgs } from '@captioner/core/node';
import { runTokenize } from './tokenize.js';

export const tokenizeCommand: CommandModule<object, CommonArgs> = {
  command: 'tokenize',
  describe: 'Keras-style tokenizer fit on the training split → tokens.arrow + vocab.json',
  builder: (y) => withCommonOptions(y),
  handler: runHandler(async (argv: CommonArgs) => {
    const ctx = stageContext(argv);
    await withStageLock(ctx.dir('tokenize'), () =>
      runTokenize({ cleanDir: ctx.dir('text-clean'), outDir: ctx.dir('tokenize'), config: ctx.config.tokenize }),
    );
  }),
};
