import type { CommandModule } from 'yargs';
import type { Stage } from '@captioner/core';
import type { CommonArgs } from '@captioner/core/node';

/**
 * The CLI's command table. Each stage package is imported only when its command runs (importing
 * every stage pulls in TF.js, onnxruntime, sharp… and took seconds before `--help` could answer);
 * `command` and `describe` are copied here so the top-level help needs no stage module.
 * commands.test.ts checks they match the stage packages' own.
 */
export interface CommandEntry {
  /** yargs command string, as in the stage's CommandModule. */
  command: string;
  describe: string;
  load: () => Promise<CommandModule<object, never>>;
}

/**
 * A pipeline stage's command, built from the `stage` its package exports (src/stage.ts). Core's Node
 * entry is imported here too, not at the top: it pulls in zod and Arrow, which `--help` does not need.
 */
function fromStage<A extends CommonArgs>(load: () => Promise<{ stage: Stage<A> }>): () => Promise<CommandModule<object, never>> {
  return async () => {
    const [{ stageCommand }, { stage }] = await Promise.all([import('@captioner/core/node'), load()]);
    return stageCommand(stage) as CommandModule<object, never>;
  };
}

export const COMMANDS: readonly CommandEntry[] = [
  {
    command: 'ingest',
    describe: 'Read Flickr8k captions + images (Kaggle or original layout), split by image → captions.arrow',
    load: fromStage(() => import('@captioner/ingest')),
  },
  {
    command: 'text-clean',
    describe: 'Lowercase, strip punctuation, keep alphabetic words (of 2+ letters by default), wrap in <sos> … <eos>',
    load: fromStage(() => import('@captioner/text-clean')),
  },
  {
    command: 'tokenize',
    describe: 'Keras-style tokenizer fit on the training split → tokens.arrow + vocab.json',
    load: fromStage(() => import('@captioner/tokenize')),
  },
  {
    command: 'featurize',
    describe: 'CNN feature grid per image (InceptionV3 or MobileNetV2, featurize.backbone) → sharded Arrow',
    load: fromStage(() => import('@captioner/featurize')),
  },
  {
    command: 'train',
    describe: 'Train the captioner on tokenize + featurize outputs (checkpoints, TensorBoard logs, best model)',
    load: fromStage(() => import('@captioner/train')),
  },
  {
    command: 'evaluate',
    describe: 'Decode a split (greedy + beam) with the trained model and score it (BLEU-1..4, CIDEr-D, ROUGE-L) → predictions.arrow, predictions.jsonl, metrics.json',
    load: fromStage(() => import('@captioner/evaluate')),
  },
  {
    command: 'caption <images..>',
    describe: 'Caption image files or folders of images (the shipped pretrained model unless you trained one or pass --model)',
    load: async () => (await import('@captioner/caption')).captionCommand as CommandModule<object, never>,
  },
  {
    command: 'tune-decoding',
    describe: 'Choose beam width, length penalty and n-gram blocking on the validation split (best CIDEr-D) → <stagesDir>/evaluate/tune-decoding.json',
    load: async () => (await import('@captioner/evaluate')).tuneDecodingCommand as CommandModule<object, never>,
  },
  {
    command: 'viz',
    describe: 'Figures (dataset sample, training curves, attention per word) as PNGs + a self-contained HTML report',
    load: fromStage(() => import('@captioner/viz')),
  },
];

/** A command's name: the first word of its command string (`caption <images..>` → `caption`). */
export function commandName(entry: CommandEntry): string {
  return entry.command.split(' ')[0];
}

/**
 * The command an argument list runs: the first argument naming one (options come before or after
 * it; a stage name is never a sensible option value), or undefined for `--help`, no command or an
 * unknown one, which yargs then answers from the table alone.
 */
export function selectedCommand(argv: readonly string[]): CommandEntry | undefined {
  for (const arg of argv) {
    if (arg === '--') return undefined;
    const entry = COMMANDS.find((e) => commandName(e) === arg);
    if (entry) return entry;
  }
  return undefined;
}

/**
 * The yargs command modules for one invocation: the selected command's real module (its own
 * builder, so flags, `<stage> --help` and handler are the stage's), every other command as a
 * name + description placeholder that help and strictCommands need.
 */
export async function commandModules(argv: readonly string[]): Promise<CommandModule<object, never>[]> {
  const selected = selectedCommand(argv);
  return Promise.all(
    COMMANDS.map(async (entry) =>
      entry === selected ? await entry.load() : ({ command: entry.command, describe: entry.describe, builder: {}, handler: () => {} } as CommandModule<object, never>),
    ),
  );
}
