/**
 * A tiny but real pipeline for tests: images made with sharp, an ingest table, the real featurize
 * stage run with a small deterministic feature network, and a freshly initialized CaptionModel
 * saved the way `train` exports it.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { featurizeSchema } from '@captioner/core';
import { writeArrowFile, writeJsonAtomic } from '@captioner/core/node';
import { runFeaturize, readFeaturizeManifest, type FeatureExtractor } from '@captioner/featurize';
import { captionsTable, type CaptionRow, type Split } from '@captioner/ingest';
import { CaptionModel } from '@captioner/model';
import { initBackend, tf } from '@captioner/tf';

export const GRID = 2;
export const LOCATIONS = GRID * GRID;

/**
 * Feature network stand-in: for each quadrant of the (inputSize)² image, the mean of R, G, B and of
 * the red-minus-blue difference. Deterministic and cheap; `dim` can be changed to provoke mismatches.
 */
export function quadrantExtractor(opts: { inputSize?: number; dim?: number } = {}): FeatureExtractor {
  const inputSize = opts.inputSize ?? 16;
  const dim = opts.dim ?? 4;
  const half = inputSize / 2;
  return {
    engine: 'quadrant-means (test)',
    inputSize,
    locations: LOCATIONS,
    grid: [GRID, GRID],
    dim,
    weightsHash: createHash('sha256').update(`quadrant-means/${inputSize}/${dim}`).digest('hex'),
    async extract(pixels, n) {
      const out = new Float32Array(n * LOCATIONS * dim);
      for (let i = 0; i < n; i++) {
        for (let q = 0; q < LOCATIONS; q++) {
          const [qy, qx] = [Math.floor(q / GRID), q % GRID];
          const sums = [0, 0, 0];
          for (let y = qy * half; y < (qy + 1) * half; y++) {
            for (let x = qx * half; x < (qx + 1) * half; x++) {
              for (let c = 0; c < 3; c++) sums[c] += pixels[((i * inputSize + y) * inputSize + x) * 3 + c];
            }
          }
          const means = sums.map((s) => s / (half * half));
          const values = [...means, means[0] - means[2]];
          for (let d = 0; d < dim; d++) out[(i * LOCATIONS + q) * dim + d] = values[d % values.length] * (1 + Math.floor(d / 4));
        }
      }
      return out;
    },
    dispose() {},
  };
}

export const VOCAB = {
  numWords: 9,
  vocabSize: 9,
  oovToken: '<unk>',
  padToken: '<pad>',
  maxLength: 7,
  wordIndex: { '<unk>': 1, '<sos>': 2, '<eos>': 3, dog: 4, runs: 5, cat: 6, sits: 7, grass: 8 },
  wordCounts: {},
};

/**
 * A model that says one word at every step and never `<eos>`: fc2's kernel is zeroed and its bias
 * is 10 on `word`, so the logits ignore the image and the state. Greedy and beam search both give
 * `word` repeated maxSteps times, which makes the stage's scores hand-computable.
 */
export async function saveConstantWordModel(p: TinyPipeline, dir: string, word: keyof typeof VOCAB.wordIndex): Promise<void> {
  const base = await CaptionModel.load(p.modelDir);
  const weights = { ...base.namedWeights() };
  const bias = new Float32Array(VOCAB.vocabSize);
  bias[VOCAB.wordIndex[word]] = 10;
  weights['fc2/kernel'] = tf.zerosLike(weights['fc2/kernel']);
  weights['fc2/bias'] = tf.tensor1d(bias);
  const model = CaptionModel.fromWeights(base.config, weights);
  await model.save(dir, { vocab: VOCAB, features: readFeaturizeManifest(p.featurizeDir), training: { epoch: 1, globalStep: 1, best: { epoch: 1, valLoss: 9 } } });
  tf.dispose([weights['fc2/kernel'], weights['fc2/bias']]);
  model.dispose();
  base.dispose();
}

export interface TinyPipeline {
  root: string;
  imagesDir: string;
  ingestDir: string;
  featurizeDir: string;
  modelDir: string;
  outDir: string;
  /** Reference captions by image, as written to ingest. */
  captions: Map<string, string[]>;
  testImages: string[];
}

async function solidImage(path: string, rgb: [number, number, number], size = 20): Promise<void> {
  // Two colours so quadrants differ: the left half is `rgb`, the right half its complement.
  const data = Buffer.alloc(size * size * 3);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      for (let c = 0; c < 3; c++) data[(y * size + x) * 3 + c] = x < size / 2 ? rgb[c] : 255 - rgb[c];
    }
  }
  await sharp(data, { raw: { width: size, height: size, channels: 3 } })
    .png()
    .toFile(path);
}

export async function createTinyPipeline(opts: { seed?: number } = {}): Promise<TinyPipeline> {
  await initBackend({ backend: 'cpu', quiet: true });
  const root = mkdtempSync(join(tmpdir(), 'captioner-evaluate-'));
  const imagesDir = join(root, 'images');
  mkdirSync(imagesDir);
  const colours: Record<string, [number, number, number]> = {
    'a.png': [200, 30, 30],
    'b.png': [30, 200, 30],
    'c.png': [30, 30, 200],
    'd.png': [220, 220, 40],
    'e.png': [10, 10, 10],
    'f.png': [120, 60, 200],
  };
  for (const [name, rgb] of Object.entries(colours)) await solidImage(join(imagesDir, name), rgb);
  // A "photo" that is really text: featurize records it as failed and evaluate must skip it.
  writeFileSync(join(imagesDir, 'broken.jpg'), 'this is not an image\n');

  const splitOf: Record<string, Split> = { 'a.png': 'test', 'b.png': 'test', 'c.png': 'test', 'd.png': 'test', 'broken.jpg': 'test', 'e.png': 'train', 'f.png': 'val' };
  const captions = new Map<string, string[]>([
    ['a.png', ['A dog runs on the grass.', 'The dog is running.']],
    ['b.png', ['A cat sits.', "A cat's sitting on grass!"]],
    ['c.png', ['Dog and cat, together.']],
    ['d.png', ['A yellow dog runs', 'a dog', 'Dogs run on grass.']],
    ['broken.jpg', ['Nothing to see.']],
    ['e.png', ['A black cat sits.']],
    ['f.png', ['A purple dog.']],
  ]);
  // Rows deliberately out of caption_index order: references must come back sorted by it.
  const rows: CaptionRow[] = [];
  for (const [image, list] of captions) list.forEach((caption, captionIndex) => rows.push({ image, caption, captionIndex, split: splitOf[image] }));
  rows.reverse();
  const ingestDir = join(root, 'stages', 'ingest');
  writeArrowFile(join(ingestDir, 'captions.arrow'), captionsTable(rows));
  writeJsonAtomic(join(ingestDir, 'manifest.json'), { imagesDir, layout: 'kaggle', splitSource: 'test' });

  const featurizeDir = join(root, 'stages', 'featurize');
  await runFeaturize({
    ingestDir,
    outDir: featurizeDir,
    root,
    config: featurizeSchema.parse({ dtype: 'float32', batchSize: 4 }),
    extractor: quadrantExtractor(),
    log: () => {},
    progressIntervalMs: 60_000,
  });
  const manifest = readFeaturizeManifest(featurizeDir);

  const modelDir = join(root, 'stages', 'train', 'model');
  const model = CaptionModel.create({ vocabSize: VOCAB.vocabSize, locations: LOCATIONS, featureDim: 4, embeddingDim: 8, units: 8, attentionUnits: 6 }, opts.seed ?? 7);
  await model.save(modelDir, { vocab: VOCAB, features: manifest, training: { epoch: 3, globalStep: 12, best: { epoch: 2, valLoss: 1.25 } } });
  model.dispose();
  return {
    root,
    imagesDir,
    ingestDir,
    featurizeDir,
    modelDir,
    outDir: join(root, 'stages', 'evaluate'),
    captions,
    testImages: ['a.png', 'b.png', 'c.png', 'd.png'],
  };
}
