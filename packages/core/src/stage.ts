/**
 * The one shape every pipeline stage package exports from its `src/stage.ts`. Types only, so
 * the browser-safe entry can name it without pulling in yargs or Node code.
 */
import type { ArgumentsCamelCase, Argv } from 'yargs';
import type { CommonArgs, StageContext } from './cli.js';
import type { StageName } from './stages.js';

export interface Stage<A extends CommonArgs = CommonArgs> {
  /** Stage name: the CLI command, the output folder `<stagesDir>/<name>` (locked while it runs) and the Nx project. */
  name: StageName;
  /** One line for `captioner --help`. */
  describe: string;
  /** The stage's own flags and subcommands, added to the common ones (--config, --backend, dotted overrides). */
  options?: (y: Argv<CommonArgs>) => Argv<A>;
  /** Flags that are shortcuts for config fields, folded into the dotted overrides before the config is loaded. */
  configArgs?: (argv: ArgumentsCamelCase<A>) => CommonArgs;
  /** Does the work; called with the stage folder locked. */
  run(ctx: StageContext, argv: ArgumentsCamelCase<A>): Promise<void>;
}
