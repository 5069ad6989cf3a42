/**
 * Does storing features as float16 change any caption? Decodes N images of a split greedily from
 * the featurize store (float16 on disk) and from float32 features computed afresh with the same
 * network and preprocessing, and counts identical captions.
 *
 * Usage: npx tsx --conditions=source tools/float16-check.ts [--images 100] [--split test] [--stages data/stages]
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { fromRoot, readArrowFile, readJson, workspaceRoot } from '@captioner/core/node';
import { createFeatureExtractor, openFeatureStore, preprocessImage, type FeaturizeManifest } from '@captioner/featurize';
import { CaptionModel, greedyDecode } from '@captioner/model';
import { initBackend, tf } from '@captioner/tf';
import { ingestManifestSchema } from '@captioner/ingest/contract';

const { values } = parseArgs({
  options: { images: { type: 'string', default: '100' }, split: { type: 'string', default: 'test' }, stages: { type: 'string', default: 'data/stages' } },
});
const root = workspaceRoot();
const stages = fromRoot(values.stages!, root);
await initBackend({});
const store = openFeatureStore(join(stages, 'featurize'));
const manifest = store.manifest as FeaturizeManifest;
const ingest = readArrowFile(join(stages, 'ingest', 'captions.arrow'));
const imagesDir = fromRoot(readJson(join(stages, 'ingest', 'manifest.json'), ingestManifestSchema, 'ingest').imagesDir, root);
const split = ingest.getChild('split')!;
const names = ingest.getChild('image')!;
const chosen: string[] = [];
for (let i = 0; i < ingest.numRows && chosen.length < Number(values.images); i++) {
  const img = names.get(i) as string;
  if (split.get(i) === values.split && store.has(img) && !chosen.includes(img)) chosen.push(img);
}
const model = await CaptionModel.load(join(stages, 'train', 'model'));
const vocab = model.vocab as { wordIndex: Record<string, number>; maxLength: number };
const opts = { startId: vocab.wordIndex['<sos>'], endId: vocab.wordIndex['<eos>'], maxLength: vocab.maxLength - 1 };

const extractor = await createFeatureExtractor({ engine: 'onnx', layer: manifest.layer as 'mixed10' | 'mixed5' });
const size = manifest.inputSize;
const f32 = new Float32Array(chosen.length * manifest.locations * manifest.dim);
for (let start = 0; start < chosen.length; start += 8) {
  const batch = chosen.slice(start, start + 8);
  const pixels = new Float32Array(batch.length * size * size * 3);
  for (const [k, img] of batch.entries()) {
    await preprocessImage(join(imagesDir, img), { inputSize: size, scaling: manifest.scaling, halfPixelCenters: manifest.halfPixelCenters }, pixels, k * size * size * 3);
  }
  f32.set(await extractor.extract(pixels, batch.length), start * manifest.locations * manifest.dim);
}
const f16 = store.getBatch(chosen);
let maxAbs = 0;
for (let i = 0; i < f32.length; i++) maxAbs = Math.max(maxAbs, Math.abs(f32[i] - f16[i]));
function decode(data: Float32Array): string[] {
  const features = tf.tensor3d(data, [chosen.length, manifest.locations, manifest.dim]);
  const captions = greedyDecode(model, features, opts).map((r) => r.words.join(' '));
  features.dispose();
  return captions;
}
const a = decode(f16);
const b = decode(f32);
const same = a.filter((c, i) => c === b[i]).length;
const differing = a.map((c, i) => ({ image: chosen[i], float16: c, float32: b[i] })).filter((d) => d.float16 !== d.float32);
console.log(
  JSON.stringify({ images: chosen.length, split: values.split, dtypeOnDisk: manifest.dtype, maxAbsFeatureDiff: maxAbs, identicalGreedyCaptions: same, differing }, null, 2),
);
extractor.dispose();
process.exit(0);
