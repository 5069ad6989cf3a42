import type { Argv, CommandModule } from 'yargs';
import { type Stage } from '@captioner/core';
import { fromRoot, runHandler, type CommonArgs } from '@captioner/core/node';
import { runIngest } from './ingest.js';
import { downloadKaggleDataset, KAGGLE_DATASET } from './download.js';

interface DownloadArgs {
  to: string;
  dataset: string;
  force: boolean;
}

/** `captioner ingest download`: fetches the dataset; no stage folder, so no lock. */
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

export const stage: Stage = {
  name: 'ingest',
  describe: 'Read Flickr8k captions + images (Kaggle or original layout), split by image → captions.arrow',
  options: (y) => y.command(downloadCommand as CommandModule<CommonArgs, DownloadArgs>),
  run: async (ctx) => {
    runIngest({
      datasetDir: fromRoot(ctx.config.dataset.dir, ctx.root),
      layout: ctx.config.dataset.layout,
      config: ctx.config.ingest,
      outDir: ctx.dir('ingest'),
      root: ctx.root,
    });
  },
};
