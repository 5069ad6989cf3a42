import { join } from 'node:path';
import type { CommandModule } from 'yargs';
import { runHandler, stageContext, withCommonOptions, withStageLock, type CommonArgs } from '@captioner/core/node';
import { initBackend } from '@captioner/tf';
import { runEvaluate } from './evaluate.js';

export const evaluateCommand: CommandModule<object, CommonArgs> = {
  command: 'evaluate',
  describe: 'Decode a split (greedy + beam) with the trained model and score it (BLEU-1..4, CIDEr-D, ROUGE-L) → predictions.arrow, predictions.jsonl, metrics.json',
  builder: (y) => withCommonOptions(y),
  handler: runHandler(async (argv: CommonArgs) => {
    const ctx = stageContext(argv);
    await initBackend({ backend: ctx.config.backend });
    await withStageLock(ctx.dir('evaluate'), () => runEvaluate({
      modelDir: join(ctx.dir('train'), 'model'),
      featurizeDir: ctx.dir('featurize'),
      ingestDir: ctx.dir('ingest'),
      outDir: ctx.dir('evaluate'),
      config: ctx.config.evaluate,
      minWordLength: ctx.config.textClean.minWordLength,
    }));
  }),
};

// The caption command lives in the inference package; re-exported so evaluate's API is unchanged.
export { captionCommand, expandImageArguments, attentionPngPath, IMAGE_EXTENSIONS } from '@captioner/caption';
