/**
 * Real-data training run on a Flickr8k subset: builds a dataset folder with the first N official
 * train / dev / test images (symlinks + filtered captions and split lists), then runs ingest →
 * text-clean → tokenize → featurize → train into <out>/stages and prints the epoch metrics.
 *
 *   npx tsx --conditions=source packages/train/bench/real-subset.ts --out /tmp/captioner-subset \
 *     --train 300 --val 60 --test 20 --epochs 1 [--dataset /work/shared/flickr8k] [--full]
 *
 * `--full` uses the whole dataset folder instead of a subset. Long-running: not a test.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { stage as ingestStage } from '@captioner/ingest';
import { stage as textCleanStage } from '@captioner/text-clean';
import { stage as tokenizeStage } from '@captioner/tokenize';
import { stage as featurizeStage } from '@captioner/featurize';
import { peakRssMiB, stageCommand, timer } from '@captioner/core/node';
import { stage as trainStage } from '../src/stage.js';
import { readMetricsJsonl } from '../src/metrics.js';

const args = await yargs(hideBin(process.argv))
  .option('out', { type: 'string', demandOption: true })
  .option('dataset', { type: 'string', default: process.env.FLICKR8K_DIR ?? '/work/shared/flickr8k' })
  .option('train', { type: 'number', default: 300 })
  .option('val', { type: 'number', default: 60 })
  .option('test', { type: 'number', default: 20 })
  .option('epochs', { type: 'number', default: 1 })
  .option('full', { type: 'boolean', default: false })
  .option('skip-prep', { type: 'boolean', default: false, describe: 'reuse <out>/stages up to featurize' })
  .option('backend', { type: 'string', default: 'wasm' })
  .strict()
  .parseAsync();

const out = resolve(args.out);
const source = resolve(args.dataset);
let datasetDir = source;
if (!args.full) {
  datasetDir = join(out, 'dataset');
  if (!args['skip-prep']) {
    rmSync(datasetDir, { recursive: true, force: true });
    mkdirSync(join(datasetDir, 'Images'), { recursive: true });
    const keep = new Set<string>();
    for (const [file, n] of [
      ['Flickr_8k.trainImages.txt', args.train],
      ['Flickr_8k.devImages.txt', args.val],
      ['Flickr_8k.testImages.txt', args.test],
    ] as const) {
      const images = readFileSync(join(source, file), 'utf8')
        .split('\n')
        .map((l) => l.trim())
        .filter(Boolean)
        .slice(0, n);
      images.forEach((i) => keep.add(i));
      writeFileSync(join(datasetDir, file), images.join('\n') + '\n');
    }
    for (const image of keep) symlinkSync(join(source, 'Images', image), join(datasetDir, 'Images', image));
    const lines = readFileSync(join(source, 'captions.txt'), 'utf8').split('\n');
    writeFileSync(join(datasetDir, 'captions.txt'), [lines[0], ...lines.slice(1).filter((l) => keep.has(l.split(',')[0]))].join('\n') + '\n');
  }
}
const configPath = join(out, 'config.json');
mkdirSync(out, { recursive: true });
writeFileSync(
  configPath,
  JSON.stringify({ stagesDir: join(out, 'stages'), backend: args.backend, dataset: { dir: datasetDir }, train: { epochs: args.epochs, patience: 0 } }, null, 2),
);

const times: Record<string, number> = {};
const stages = args['skip-prep'] ? ['train'] : ['ingest', 'text-clean', 'tokenize', 'featurize', 'train'];
for (const stage of stages) {
  const elapsed = timer();
  await yargs([stage, '--config', configPath])
    .command(stageCommand(ingestStage))
    .command(stageCommand(textCleanStage))
    .command(stageCommand(tokenizeStage))
    .command(stageCommand(featurizeStage))
    .command(stageCommand(trainStage))
    .strictCommands()
    .parseAsync();
  times[stage] = Math.round(elapsed() * 10) / 10;
  if (process.exitCode) {
    process.stderr.write(`${stage} failed (exit ${process.exitCode})\n`);
    process.exit(process.exitCode);
  }
}
const metricsPath = join(out, 'stages', 'train', 'metrics.jsonl');
console.log(JSON.stringify({ seconds: times, peakRssMiB: peakRssMiB(), metrics: existsSync(metricsPath) ? readMetricsJsonl(metricsPath) : null }, null, 2));
process.exit(0);
