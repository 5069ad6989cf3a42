import type { Argv } from 'yargs';
import { type Stage } from '@captioner/core';
import { log, type CommonArgs } from '@captioner/core/node';
import { initBackend } from '@captioner/tf';
import { runTrain } from './train.js';

/**
 * Turns SIGINT/SIGTERM into a stop request for the duration of `fn`: the current step finishes,
 * a checkpoint is written and the command exits 0. A second signal exits at once (130); the
 * checkpoint writes are atomic, so that is safe too.
 */
async function withStopSignals<T>(fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  let firstAt = 0;
  const onSignal = (name: NodeJS.Signals) => {
    // Launchers (npx, tsx) may relay the terminal's Ctrl-C that this process also got directly:
    // a repeat within a second is the same keypress, not a request to exit now.
    if (controller.signal.aborted && Date.now() - firstAt < 1000) return;
    if (controller.signal.aborted) {
      log('train', `${name} again: exiting without a new checkpoint`);
      process.exit(130);
    }
    log('train', `${name}: finishing the current step, then writing a checkpoint (send again to exit now)`);
    firstAt = Date.now();
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    return await fn(controller.signal);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

interface TrainArgs extends CommonArgs {
  resume: boolean;
}

export const stage: Stage<TrainArgs> = {
  name: 'train',
  describe: 'Train the captioner on tokenize + featurize outputs (checkpoints, TensorBoard logs, best model)',
  options: (y) =>
    y.option('resume', {
      type: 'boolean',
      default: false,
      describe: 'continue from the newest checkpoint in <stagesDir>/train/checkpoints (same optimizer state and data order)',
    }) as Argv<TrainArgs>,
  run: async (ctx, argv) => {
    await initBackend({ backend: ctx.config.backend });
    const result = await withStopSignals((signal) =>
      runTrain({
        config: ctx.config,
        tokenizeDir: ctx.dir('tokenize'),
        featurizeDir: ctx.dir('featurize'),
        ingestDir: ctx.dir('ingest'),
        outDir: ctx.dir('train'),
        resume: argv.resume,
        signal,
      }),
    );
    log('train', `${result.status} after ${result.globalStep} steps${result.best ? `; best epoch ${result.best.epoch}` : ''}`);
  },
};
