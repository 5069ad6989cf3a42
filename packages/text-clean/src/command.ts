import type { CommandModule } from 'yargs';
import { runHandler, stageContext, withCommonOptions, withStageLock, type CommonArgs } from '@captioner/core/node';
import { runTextClean } from './clean.js';

export const textCleanCommand: CommandModule<object, CommonArgs> = {
  command: 'text-clean',
  describe: 'Lowercase, strip punctuation, keep alphabetic words (of 2+ letters by default), wrap in <sos> … <eos>',
  builder: (y) => withCommonOptions(y),
  handler: runHandler(async (argv: CommonArgs) => {
    const ctx = stageContext(argv);
    await withStageLock(ctx.dir('text-clean'), () =>
      runTextClean({ ingestDir: ctx.dir('ingest'), outDir: ctx.dir('text-clean'), minWordLength: ctx.config.textClean.minWordLength }),
    );
  }),
};
