import { join } from 'node:path';
import type { CommandModule } from 'yargs';
import { runHandler, stageContext, withCommonOptions, type CommonArgs } from '@captioner/core/node';
import { initBackend } from '@captioner/tf';
import { decodeGrid, tuneDecoding, tuneReportPath } from './tune.js';

interface TuneArgs extends CommonArgs {
  beams: number[];
  'length-penalties': number[];
  'block-ngram': number[];
  split: 'train' | 'val';
  limit?: number;
  model?: string;
}

export const tuneDecodingCommand: CommandModule<object, TuneArgs> = {
  command: 'tune-decoding',
  describe: 'Choose beam width, length penalty and n-gram blocking on the validation split (best CIDEr-D) → <stagesDir>/evaluate/tune-decoding.json',
  builder: (y) =>
    withCommonOptions(y)
      .option('beams', { type: 'number', array: true, default: [1, 3, 5], describe: 'beam widths (1 = greedy)' })
      .option('length-penalties', { type: 'number', array: true, default: [0.5, 1, 1.5], describe: 'beam score = logProb / length^p' })
      // Not --no-repeat: yargs reads --no-X as X = false.
      .option('block-ngram', { type: 'number', array: true, default: [0, 2, 3], describe: 'never repeat an n-gram of this size (0 = off)' })
      .option('split', { type: 'string', choices: ['val', 'train'] as const, default: 'val' as const, describe: 'never test: test is only reported' })
      .option('limit', { type: 'number', describe: 'decode at most this many images' })
      .option('model', { type: 'string', describe: 'model folder (default <stagesDir>/train/model)' }) as never,
  handler: runHandler(async (argv: TuneArgs) => {
    const ctx = stageContext(argv);
    await initBackend({ backend: ctx.config.backend });
    await tuneDecoding({
      modelDir: argv.model ?? join(ctx.dir('train'), 'model'),
      featurizeDir: ctx.dir('featurize'),
      ingestDir: ctx.dir('ingest'),
      split: argv.split,
      settings: decodeGrid(argv.beams, argv['length-penalties'], argv['block-ngram']),
      limit: argv.limit ?? null,
      batchSize: ctx.config.evaluate.batchSize,
      maxSteps: ctx.config.evaluate.maxLength,
      outPath: tuneReportPath(ctx.dir('evaluate')),
    });
  }),
};
