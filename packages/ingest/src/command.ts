import type { Argv, CommandModule } from 'yargs';
import { fromRoot, runHandler, stageContext, withCommonOptions, withStageLock, type CommonArgs } from '@captioner/core/node';
import { runIngest } from './ingest.js';
import { downloadKaggleDataset, KAGGLE_DATASET } from './download.js';

interface DownloadArgs {
  to: string;
  dataset: string;
  force: boolean;
}

const downloadCommand: CommandModule<object, DownloadArgs> = {
  command: 'download',
  describe: `Download Flickr8k from Kaggle (${KAGGLE_DATASET}); credentials from KAGGLE_USERNAME/KAGGLE_KEY or ~/.kaggle/kaggle.json`,
  builder: (y) =>
    y
      .option('to', { type: 'string', default: process.env.FLICKR8K_DIR ?? 'data/flickr8k', describe: 'target folder' })
      .option('dataset', { type: 'string', default: KAGGLE_DATASET, describe: 'Kaggle dataset owner/name' })
      .option('force', { type: 'boolean', default: false, describe: 'replace an existing target folder' }) as Argv<DownloadArgs>,
  handler: runHandler(async (argv: DownloadArgs) => {
    await downloadKaggleDataset({ to: fromRoot(argv.to), dataset: argv.dataset, force: argv.force });
  }),
};

export const ingestCommand: CommandModule<object, CommonArgs> = {
  command: 'ingest',
  describe: 'Read Flickr8k captions + images (Kaggle or original layout), split by image → captions.arrow',
  builder: (y) => withCommonOptions(y).command(downloadCommand as CommandModule<CommonArgs, DownloadArgs>),
  handler: runHandler(async (argv: CommonArgs) => {
    const ctx = stageContext(argv);
    await withStageLock(ctx.dir('ingest'), () => runIngest({
      datasetDir: fromRoot(ctx.config.dataset.dir, ctx.root),
      layout: ctx.config.dataset.layout,
      config: ctx.config.ingest,
      outDir: ctx.dir('ingest'),
      root: ctx.root,
    }));
  }),
};
