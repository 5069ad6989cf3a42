#!/usr/bin/env node
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { ingestCommand } from '@captioner/ingest';
import { textCleanCommand } from '@captioner/text-clean';
import { tokenizeCommand } from '@captioner/tokenize';
import { featurizeCommand } from '@captioner/featurize';
import { trainCommand } from '@captioner/train';
import { captionCommand, evaluateCommand, tuneDecodingCommand } from '@captioner/evaluate';
import { vizCommand } from '@captioner/viz';

/**
 * `captioner <stage> [flags]`: one CLI for every stage; Nx targets call it too.
 * Exits explicitly: TF.js wasm pthread workers would otherwise keep the process alive.
 */
export async function main(argv = hideBin(process.argv)): Promise<void> {
  await yargs(argv)
    .scriptName('captioner')
    .command(ingestCommand)
    .command(textCleanCommand)
    .command(tokenizeCommand)
    .command(featurizeCommand)
    .command(trainCommand)
    .command(evaluateCommand)
    .command(captionCommand)
    .command(tuneDecodingCommand)
    .command(vizCommand)
    .demandCommand(1, 'name a stage (see the list above)')
    .strictCommands()
    .recommendCommands()
    .help()
    .wrap(Math.min(110, process.stdout.columns || 110))
    .fail((msg, err, y) => {
      if (err) throw err;
      process.stderr.write(`${y.help()}\n\n${msg}\n`);
      process.exit(2);
    })
    .parseAsync();
}

main().then(
  () => process.exit(process.exitCode ?? 0),
  (err) => {
    process.stderr.write(`${err?.stack ?? err}\n`);
    process.exit(1);
  },
);
