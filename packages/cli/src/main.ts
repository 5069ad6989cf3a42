#!/usr/bin/env node
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { commandModules } from './commands.js';

/**
 * `captioner <stage> [flags]`: one CLI for every stage; Nx targets call it too.
 * Commands come from the table in commands.ts: only the stage that runs is imported.
 * Exits explicitly: TF.js wasm pthread workers would otherwise keep the process alive.
 */
export async function main(argv = hideBin(process.argv)): Promise<void> {
  await yargs(argv)
    .scriptName('captioner')
    .command(await commandModules(argv))
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
