import type { Argv } from 'yargs';
import { pipelineConfigSchema, type PipelineConfig } from './config.js';
import { loadConfig } from './config-file.js';
import { fromRoot, workspaceRoot } from './paths.js';
import { CaptionerError } from './errors.js';

/** Options every stage command accepts. */
export interface CommonArgs {
  config?: string;
  backend?: string;
  [key: string]: unknown;
}

export function withCommonOptions<T>(y: Argv<T>): Argv<T & CommonArgs> {
  return y
    .option('config', {
      type: 'string',
      describe: 'pipeline configuration file (pipelines/configs/<name>.json)',
      default: process.env.CAPTIONER_CONFIG,
    })
    .option('backend', {
      type: 'string',
      choices: ['auto', 'tensorflow', 'wasm', 'cpu'],
      describe: 'TF.js backend (also CAPTIONER_BACKEND)',
    })
    .epilog('Any config field can be overridden with dotted flags, e.g. --train.epochs 3 --featurize.layer mixed5') as Argv<T & CommonArgs>;
}

export interface StageContext {
  root: string;
  config: PipelineConfig;
  /** Absolute directory of a stage's outputs. */
  dir(stage: string): string;
}

const sectionNames = new Set(Object.keys(pipelineConfigSchema.shape));

/** Loads the configuration named by --config, applying dotted-flag overrides and --backend. */
export function stageContext(argv: CommonArgs): StageContext {
  const root = workspaceRoot();
  const overrides: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(argv)) {
    if (sectionNames.has(key) && key !== 'backend') overrides[key] = value;
  }
  const backend = (argv.backend as string | undefined) ?? process.env.CAPTIONER_BACKEND;
  if (backend) overrides.backend = backend;
  const configPath = argv.config ? fromRoot(argv.config, root) : undefined;
  const config = loadConfig(configPath, overrides);
  const stagesDir = fromRoot(config.stagesDir, root);
  const overridden = config.stageDirs as Record<string, string | undefined>;
  return { root, config, dir: (stage) => (overridden[stage] ? fromRoot(overridden[stage], root) : `${stagesDir}/${stage}`) };
}

/** Wraps a command handler: CaptionerErrors print as one clear message and set the exit code. */
export function runHandler<A>(fn: (argv: A) => Promise<void> | void): (argv: A) => Promise<void> {
  return async (argv: A) => {
    try {
      await fn(argv);
    } catch (err) {
      if (err instanceof CaptionerError) {
        process.stderr.write(`error: ${err.message}\n`);
        process.exitCode = err.exitCode;
        return;
      }
      throw err;
    }
  };
}
