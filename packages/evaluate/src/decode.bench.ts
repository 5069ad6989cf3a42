/**
 * Decoding and caption-any-image throughput at the real model size (not a test: run by hand).
 *
 *   npx tsx --conditions=source packages/evaluate/src/decode.bench.ts [--images 64] [--batch 32] [--beam 3] [--backend wasm]
 *
 * 1. greedy and beam search over random [B, 64, 2048] features with a default-size model
 *    (embedding 256, units 512, attention 512, vocab 5001, 20 steps max) → images/s per method;
 * 2. loadCaptioner with the real feature network (a random model whose features.json matches it)
 *    on Flickr8k images when /work/shared/flickr8k is present → ms per image (featurize + beam).
 * Weights are random, so captions are meaningless and run to the step limit: an upper bound on
 * decode time per image.
 */
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createFeatureExtractor } from '@captioner/featurize';
import { CaptionModel, beamSearch, greedyDecode } from '@captioner/model';
import { initBackend, tf, type BackendChoice } from '@captioner/tf';
import { loadCaptioner } from './captioner.js';

const { values } = parseArgs({
  options: {
    images: { type: 'string', default: '64' },
    batch: { type: 'string', default: '32' },
    beam: { type: 'string', default: '3' },
    backend: { type: 'string', default: 'wasm' },
    photos: { type: 'string', default: '10' },
  },
});
const images = Number(values.images);
const batch = Number(values.batch);
const beam = Number(values.beam);
const info = await initBackend({ backend: values.backend as BackendChoice });

const vocabSize = 5001;
const config = { vocabSize, locations: 64, featureDim: 2048, embeddingDim: 256, units: 512, attentionUnits: 512 };
const model = CaptionModel.create(config, 1);
const opts = { startId: 2, endId: 3, maxLength: 20 };
const random = tf.randomUniform([batch, 64, 2048], 0, 2, 'float32', 5) as tf.Tensor3D;
const result: Record<string, unknown> = { backend: info.name, threads: info.threads, images, batch, beam, maxSteps: opts.maxLength };
for (const [name, run] of [
  ['greedy', () => greedyDecode(model, random, opts)],
  [`beam${beam}`, () => beamSearch(model, random, { ...opts, beam })],
] as const) {
  run(); // warm-up (kernel compilation, allocations)
  const t0 = performance.now();
  let done = 0;
  let words = 0;
  while (done < images) {
    words += run().reduce((n, r) => n + r.words.length, 0);
    done += batch;
  }
  const seconds = (performance.now() - t0) / 1000;
  result[name] = { imagesPerSec: Number((done / seconds).toFixed(2)), meanWords: Number((words / done).toFixed(1)) };
}
random.dispose();

const photosDir = '/work/shared/flickr8k/Images';
if (existsSync(photosDir)) {
  const extractor = await createFeatureExtractor({ engine: 'auto', layer: 'mixed10' });
  const dir = mkdtempSync(join(tmpdir(), 'captioner-bench-'));
  const vocab = {
    numWords: vocabSize,
    vocabSize,
    oovToken: '<unk>',
    padToken: '<pad>',
    maxLength: 21,
    wordIndex: Object.fromEntries(Array.from({ length: vocabSize - 1 }, (_, i) => [i === 0 ? '<unk>' : i === 1 ? '<sos>' : i === 2 ? '<eos>' : `w${i + 1}`, i + 1])),
  };
  const features = {
    layer: 'mixed10',
    scaling: '0,1',
    dim: extractor.dim,
    locations: extractor.locations,
    grid: extractor.grid,
    inputSize: extractor.inputSize,
    weightsHash: extractor.weightsHash,
  };
  await model.save(dir, { vocab, features });
  const captioner = await loadCaptioner(dir, { extractor });
  const files = readdirSync(photosDir).sort().slice(0, Number(values.photos));
  await captioner.caption(join(photosDir, files[0]), { beam }); // warm-up
  const times: number[] = [];
  for (const f of files) {
    const t0 = performance.now();
    await captioner.caption(join(photosDir, f), { beam });
    times.push(performance.now() - t0);
  }
  result.caption = { engine: extractor.engine, photos: files.length, msPerImage: Math.round(times.reduce((a, b) => a + b, 0) / times.length) };
  captioner.dispose();
  extractor.dispose();
  rmSync(dir, { recursive: true, force: true });
}
model.dispose();
process.stdout.write(JSON.stringify(result) + '\n');
process.exit(0);
