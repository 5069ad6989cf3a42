/** `captioner caption IMAGE_OR_FOLDER…`: the shipped model by default, a pipeline model when there is one. */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, extname, join, resolve } from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { CaptionerError } from '@captioner/core';
import { runHandler, stageContext, withCommonOptions, writeFileAtomic, type CommonArgs } from '@captioner/core/node';
import { initBackend } from '@captioner/tf';
import { renderAttentionFigure } from './draw/figures.js';
import { loadCaptioner, PRETRAINED_MODEL_DIR } from './node.js';
import type { CaptionResult } from './captioner.js';

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

export type ModelSource = 'flag' | 'pipeline' | 'pretrained';

/**
 * Which model captions: `--model DIR` when given; else `--pretrained` forces the shipped model; else
 * the pipeline's `<stagesDir>/train/model` when it exists (you trained one: it is yours to use);
 * else the shipped pretrained model.
 */
export function chooseModel(opts: { model?: string; pretrained?: boolean; pipelineModel: string }): { dir: string; source: ModelSource } {
  if (opts.model && opts.pretrained) throw new CaptionerError('--model and --pretrained exclude each other');
  if (opts.model) return { dir: resolve(opts.model), source: 'flag' };
  if (!opts.pretrained && existsSync(join(opts.pipelineModel, 'model.json'))) return { dir: opts.pipelineModel, source: 'pipeline' };
  return { dir: PRETRAINED_MODEL_DIR, source: 'pretrained' };
}

interface CaptionArgs extends CommonArgs {
  images: string[];
  beam: number;
  json: boolean;
  model?: string;
  pretrained: boolean;
  'max-length'?: number;
  'length-penalty'?: number;
  'block-ngram'?: number;
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
  describe: 'Caption image files or folders of images (the shipped pretrained model unless you trained one or pass --model)',
  builder: (y) =>
    withCommonOptions(y)
      .positional('images', { type: 'string', array: true, demandOption: true, describe: 'image files and/or folders (every image directly inside)' })
      .option('beam', { type: 'number', default: 3, describe: 'beam width (1 = greedy)' })
      .option('json', { type: 'boolean', default: false, describe: 'one JSON object per image on stdout (caption, tokens, attention, logProb, ms)' })
      .option('model', { type: 'string', describe: 'model folder (default: <stagesDir>/train/model when it exists, else the shipped pretrained model)' })
      .option('pretrained', { type: 'boolean', default: false, describe: 'use the shipped pretrained model even when the pipeline has trained one' })
      .option('max-length', { type: 'number', describe: 'decoder steps including <eos> (default vocab maxLength - 1)' })
      .option('length-penalty', { type: 'number', describe: "beam score = logProb / length^p (default: the config's evaluate.lengthPenalty)" })
      // Not --no-repeat-ngram: yargs reads --no-X as "X is false".
      .option('block-ngram', { type: 'number', describe: "never repeat an n-gram of this size, 0 = off (default: the config's evaluate.noRepeatNgram)" })
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
    const chosen = chooseModel({ model: modelArg, pretrained: argv.pretrained, pipelineModel: join(ctx.dir('train'), 'model') });
    if (chosen.source !== 'flag')
      process.stderr.write(
        `model: ${chosen.dir} (${chosen.source === 'pipeline' ? "the pipeline's trained model; --pretrained for the shipped one" : 'the shipped pretrained model'})\n`,
      );
    const captioner = await loadCaptioner(chosen.dir);
    const decode = {
      beam: argv.beam,
      maxLength: argv['max-length'],
      lengthPenalty: argv['length-penalty'] ?? ctx.config.evaluate.lengthPenalty,
      noRepeatNgram: argv['block-ngram'] ?? ctx.config.evaluate.noRepeatNgram,
    };
    let failures = 0;
    try {
      for (const image of images) {
        const started = performance.now();
        try {
          const r = await captioner.caption(image, decode);
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
