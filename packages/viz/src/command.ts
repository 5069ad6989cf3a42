import type { CommandModule } from 'yargs';
import { runHandler, stageContext, withCommonOptions, withStageLock, type CommonArgs } from '@captioner/core/node';
import { runViz } from './run.js';

export const vizCommand: CommandModule<object, CommonArgs> = {
  command: 'viz',
  describe: 'Figures (dataset sample, training curves, attention per word) as PNGs + a self-contained HTML report',
  builder: (y) => withCommonOptions(y),
  handler: runHandler(async (argv: CommonArgs) => {
    const ctx = stageContext(argv);
    await withStageLock(ctx.dir('viz'), () => runViz({
      root: ctx.root,
      ingestDir: ctx.dir('ingest'),
      featurizeDir: ctx.dir('featurize'),
      trainDir: ctx.dir('train'),
      evaluateDir: ctx.dir('evaluate'),
      outDir: ctx.dir('viz'),
      config: ctx.config.viz,
    }));
  }),
};
