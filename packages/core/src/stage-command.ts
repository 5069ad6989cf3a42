import type { Argv, ArgumentsCamelCase, CommandModule } from 'yargs';
import { runHandler, stageContext, withCommonOptions, type CommonArgs } from './cli.js';
import { withStageLock } from './lock.js';
import type { Stage } from './stage.js';

/**
 * The yargs command of a stage: the common options plus the stage's own, and a handler that
 * loads the configuration, locks `<stagesDir>/<stage>` and runs the stage; CaptionerErrors print
 * as one line (runHandler).
 */
export function stageCommand<A extends CommonArgs>(stage: Stage<A>): CommandModule<object, A> {
  return {
    command: stage.name,
    describe: stage.describe,
    builder: (y: Argv<object>) => {
      const common = withCommonOptions(y) as Argv<CommonArgs>;
      return stage.options ? stage.options(common) : (common as Argv<A>);
    },
    handler: runHandler(async (argv: ArgumentsCamelCase<A>) => {
      const ctx = stageContext(stage.configArgs ? stage.configArgs(argv) : argv);
      await withStageLock(ctx.dir(stage.name), () => stage.run(ctx, argv));
    }),
  };
}
