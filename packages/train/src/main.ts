#!/usr/bin/env node
/**
 * Stand-alone entry for the train stage (`node --import tsx --conditions=source
 * packages/train/src/main.ts train [--resume]`); the `captioner` CLI registers the same command.
 * Exits explicitly because TF.js wasm pthread workers could otherwise keep the process alive.
 * Prefer `node --import tsx` over the tsx CLI (`npx tsx`) for training: the tsx CLI SIGKILLs its
 * child when it does not acknowledge Ctrl-C within ~60 ms, which a busy training step cannot do,
 * so no interrupt checkpoint would be written.
 */
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { stageCommand } from '@captioner/core/node';
import { stage } from './stage.js';

yargs(hideBin(process.argv))
  .scriptName('captioner')
  .command(stageCommand(stage))
  .demandCommand(1)
  // Not .strict(): dotted config overrides (--train.epochs 3) are not declared options.
  .strictCommands()
  .help()
  .parseAsync()
  .then(
    () => process.exit(process.exitCode ?? 0),
    (err: unknown) => {
      process.stderr.write(`${(err as Error)?.stack ?? String(err)}\n`);
      process.exit(1);
    },
  );
