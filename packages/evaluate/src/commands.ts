import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, extname, join, resolve } from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { CaptionerError, runHandler, stageContext, withCommonOptions, writeFileAtomic, type CommonArgs } from '@captioner/core';
import { initBackend } from '@captioner/tf';
import { renderAttentionFigure } from '@captioner/viz';
import { runEvaluate } from './evaluate.js';
import { loadCaptioner, type CaptionResult } from './captioner.js';

export const evaluateCommand: CommandModule<object, CommonArgs> = {
  command: 'evaluate',
  describe: 'Decode a split (greedy + beam) with the trained model and score it (BLEU-1..4, CIDEr-D, ROUGE-L) → predictions.arrow, predictions.jsonl, metrics.json',
  builder: (y) => withCommonOptions(y),
  handler: runHandler(async (argv: CommonArgs) => {
    const ctx = stageContext(argv);
    await initBackend({ backend: ctx.config.backend });
    await runEvaluate({
      modelDir: join(ctx.dir('train'), 'model'),
      featurizeDir: ctx.dir('featurize'),
      ingestDir: ctx.dir('ingest'),
      outDir: ctx.dir('evaluate'),
      config: ctx.config.evaluate,
    });
  }),
};

/** File extensions picked up when a folder is given (formats sharp decodes). */
export const IMAGE_EXTENSIONS = new Set(['.jpg', '.jpeg', '.png', '.webp', '.gif', '.tif', '.tiff', '.avif', '.heic', '.heif']);

/** Expands folder arguments into their image files (sorted, not recursive); files pass through. */
export function expandImageArguments(args: readonly string[]): string[] {
  const out: string[] = [];
  for (const arg of args) {
    if (!existsSync(arg)) throw new CaptionerError(`${arg}: no such file or folder`);
    if (statSync(arg).isDirectory()) {
      const images = readdirSync(arg)
        .filter((name) => IMAGE_EXTENSIONS.has(extname(name).toLowerCase()) && statSync(join(arg, name)).isFile())
        .sort()
        .map((name) => join(arg, name));
      if (images.length === 0) throw new CaptionerError(`${arg}: folder has no image files (${[...IMAGE_EXTENSIONS].join(' ')})`);
      out.push(...images);
    } else out.push(arg);
  }
  return out;
}

/** With several images, `out.png` becomes `out-<image name>.png` per image. */
export function attentionPngPath(template: string, image: string, many: boolean): string {
  if (!many) return resolve(template);
  const ext = extname(template) || '.png';
  const stem = template.slice(0, template.length - extname(template).length);
  return resolve(`${stem}-${basename(image, extname(image))}${ext}`);
}

interface CaptionArgs extends CommonArgs {
  images: string[];
  beam: number;
  json: boolean;
  model?: string;
  'max-length'?: number;
  'attention-png'?: string;
}

function jsonLine(image: string, r: CaptionResult, ms: number): string {
  return JSON.stringify({
    image,
    caption: r.caption,
    words: r.words,
    tokens: r.tokens,
    logProb: Number(r.logProb.toFixed(4)),
    finished: r.finished,
    method: r.method,
    beam: r.beam,
    grid: r.grid,
    attention: r.attention.map((row) => Array.from(row, (x) => Number(x.toFixed(5)))),
    ms: Math.round(ms),
  });
}

export const captionCommand: CommandModule<object, CaptionArgs> = {
  command: 'caption <images..>',
  describe: 'Caption image files or folders of images with the trained model',
  builder: (y) =>
    withCommonOptions(y)
      .positional('images', { type: 'string', array: true, demandOption: true, describe: 'image files and/or folders (every image directly inside)' })
      .option('beam', { type: 'number', default: 3, describe: 'beam width (1 = greedy)' })
      .option('json', { type: 'boolean', default: false, describe: 'one JSON object per image on stdout (caption, tokens, attention, logProb, ms)' })
      .option('model', { type: 'string', describe: 'model folder (default <stagesDir>/train/model)' })
      .option('max-length', { type: 'number', describe: 'decoder steps including <eos> (default vocab maxLength - 1)' })
      .option('attention-png', {
        type: 'string',
        describe: 'write a per-word attention figure to this PNG (several images: out-<image>.png each)',
      }) as unknown as Argv<CaptionArgs>,
  handler: runHandler(async (argv: CaptionArgs) => {
    // `--model` names a folder here; it must not reach stageContext as the config's `model` section.
    const { model: modelArg, ...configArgs } = argv;
    const ctx = stageContext(configArgs);
    if (!Number.isInteger(argv.beam) || argv.beam < 1) throw new CaptionerError(`--beam must be a positive integer, got ${argv.beam}`);
    const images = expandImageArguments(argv.images);
    await initBackend({ backend: ctx.config.backend });
    const modelDir = modelArg ? resolve(modelArg) : join(ctx.dir('train'), 'model');
    const captioner = await loadCaptioner(modelDir);
    let failures = 0;
    try {
      for (const image of images) {
        const started = performance.now();
        try {
          const r = await captioner.caption(image, { beam: argv.beam, maxLength: argv['max-length'] });
          const ms = performance.now() - started;
          if (argv.json) process.stdout.write(jsonLine(image, r, ms) + '\n');
          else process.stdout.write(`${image}\t${r.caption}\t(${Math.round(ms)} ms)\n`);
          if (argv['attention-png']) {
            const out = attentionPngPath(argv['attention-png'], image, images.length > 1);
            if (r.words.length === 0) process.stderr.write(`warning: ${image}: empty caption, no attention figure written\n`);
            else {
              writeFileAtomic(out, await renderAttentionFigure(image, r.words, r.attention, r.grid));
              process.stderr.write(`attention figure: ${out}\n`);
            }
          }
        } catch (err) {
          if (!(err instanceof CaptionerError)) throw err;
          failures++;
          process.stderr.write(`error: ${err.message}\n`);
        }
      }
    } finally {
      captioner.dispose();
    }
    if (failures > 0) throw new CaptionerError(`${failures} of ${images.length} image(s) could not be captioned`);
  }),
};
