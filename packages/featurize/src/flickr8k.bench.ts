/**
 * Real-data run of the featurize stage on Flickr8k, outside the test suite (minutes, not seconds):
 *
 *   npx tsx --conditions=source packages/featurize/src/flickr8k.bench.ts --images 200 --work /tmp/featurize-bench [--engine auto] [--add 10]
 *
 * Writes its own ingest-style input (captions.arrow + manifest.json for the first N images of
 * /work/shared/flickr8k/captions.txt) under --work, runs the stage into <work>/featurize, then with
 * --add K appends K more images and re-runs to time the incremental path. Prints one JSON summary.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Int32, Table, Utf8, vectorFromArray } from 'apache-arrow';
import { featurizeSchema } from '@captioner/core';
import { timer, writeArrowFile, writeJsonAtomic, workspaceRoot } from '@captioner/core/node';
import { initBackend } from '@captioner/tf';
import { onnxRuntimeAvailable } from './engines/index.js';
import { runFeaturize } from './featurize.js';

const { values } = parseArgs({
  options: {
    images: { type: 'string', default: '200' },
    work: { type: 'string', default: '/tmp/featurize-bench' },
    engine: { type: 'string', default: 'auto' },
    add: { type: 'string', default: '0' },
    dataset: { type: 'string', default: '/work/shared/flickr8k' },
    batch: { type: 'string', default: '8' },
  },
});

/** First-appearance image names of a Kaggle-format captions.txt (`image,caption` header). */
function imageNames(dataset: string): string[] {
  const lines = readFileSync(join(dataset, 'captions.txt'), 'utf8').split('\n').slice(1);
  return [...new Set(lines.filter((l) => l.trim()).map((l) => l.slice(0, l.indexOf(','))))];
}

function writeIngest(ingestDir: string, dataset: string, images: string[]): void {
  writeArrowFile(
    join(ingestDir, 'captions.arrow'),
    new Table({
      image: vectorFromArray(images, new Utf8()),
      caption: vectorFromArray(
        images.map(() => 'unused'),
        new Utf8(),
      ),
      caption_index: vectorFromArray(
        images.map(() => 0),
        new Int32(),
      ),
      split: vectorFromArray(
        images.map(() => 'train'),
        new Utf8(),
      ),
    }),
  );
  writeJsonAtomic(join(ingestDir, 'manifest.json'), { imagesDir: join(dataset, 'Images'), layout: 'kaggle', splitSource: 'bench' });
}

const all = imageNames(values.dataset!);
const n = Math.min(Number(values.images), all.length);
const add = Number(values.add);
const ingestDir = join(values.work!, 'ingest');
const outDir = join(values.work!, 'featurize');
const config = featurizeSchema.parse({ engine: values.engine, batchSize: Number(values.batch) });
if (config.engine === 'tfjs' || (config.engine === 'auto' && !(await onnxRuntimeAvailable()))) await initBackend({});

writeIngest(ingestDir, values.dataset!, all.slice(0, n));
const full = timer();
const first = await runFeaturize({ ingestDir, outDir, root: workspaceRoot(), config });
const summary: Record<string, unknown> = {
  images: n,
  engine: first.engine,
  computed: first.counts.computed,
  failed: first.counts.failed,
  wallSec: Number(full().toFixed(1)),
  computeSec: first.computeSec,
  imagesPerSec: first.imagesPerSec,
  peakRssMiB: first.peakRssMiB,
  shards: first.shards.length,
};
if (add > 0) {
  writeIngest(ingestDir, values.dataset!, all.slice(0, n + add));
  const inc = timer();
  const second = await runFeaturize({ ingestDir, outDir, root: workspaceRoot(), config });
  summary.incremental = { added: add, computed: second.counts.computed, reused: second.counts.reused, wallSec: Number(inc().toFixed(1)), peakRssMiB: second.peakRssMiB };
}
process.stdout.write(JSON.stringify(summary) + '\n');
// TF.js wasm pthread workers would keep the process alive.
process.exit(0);
