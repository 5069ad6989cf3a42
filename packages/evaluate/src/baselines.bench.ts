/**
 * The baselines on a real dataset, without a model:
 *   npx tsx --conditions=source packages/evaluate/src/baselines.bench.ts --ingest DIR [--split test]
 *     [--featurize DIR] [--frequent 200] [--central 300] [--caption "a fixed caption to score too"]
 * Prints the chosen constant captions, the baseline rows x100 and the time of each step.
 *   npx tsx --conditions=source packages/evaluate/src/baselines.bench.ts --synthetic [--pool 6000] [--queries 1000] [--locations 49] [--dim 1280]
 * Times pooling and the nearest-neighbour search alone on random grids (no dataset needed).
 */
import { parseArgs } from 'node:util';
import { seededRandom } from '@captioner/core';
import { timer } from '@captioner/core/node';
import { openFeatureStore, type FeatureStore } from '@captioner/featurize';
import { cocoTokenize, METRIC_NAMES, scoreCaptions, type CaptionScores } from '@captioner/metrics';
import { initBackend, tf, type BackendChoice } from '@captioner/tf';
import { runBaselines } from './baseline-rows.js';
import { chooseConstantCaption, constantCandidates, nearestNeighbours, pooledFeatures } from './baselines.js';
import { readReferences, type Split } from './references.js';
import { times100 } from './scoring.js';

const { values } = parseArgs({
  options: {
    ingest: { type: 'string' },
    featurize: { type: 'string' },
    split: { type: 'string', default: 'test' },
    frequent: { type: 'string', default: '200' },
    central: { type: 'string', default: '300' },
    caption: { type: 'string', multiple: true, default: [] },
    synthetic: { type: 'boolean', default: false },
    pool: { type: 'string', default: '6000' },
    queries: { type: 'string', default: '1000' },
    locations: { type: 'string', default: '49' },
    dim: { type: 'string', default: '1280' },
    backend: { type: 'string' },
  },
});

if (values.synthetic) {
  await initBackend({ backend: values.backend as BackendChoice | undefined, quiet: true });
  const [nPool, nQueries, locations, dim] = [values.pool, values.queries, values.locations, values.dim].map(Number);
  const names = Array.from({ length: nPool + nQueries }, (_, i) => `img${i}.jpg`);
  const random = seededRandom(7);
  // A store that makes each grid on request (as the real one decodes float16 rows), so only a batch is ever held.
  const store = {
    dir: '(synthetic)',
    manifest: { locations, dim },
    images: names,
    failed: [],
    rowLength: locations * dim,
    has: () => true,
    get: () => new Float32Array(locations * dim).map(() => random()),
    getBatch(batch: readonly string[], out = new Float32Array(batch.length * locations * dim)) {
      for (let i = 0; i < batch.length * locations * dim; i++) out[i] = random();
      return out;
    },
    close() {},
  } as unknown as FeatureStore;
  let t = timer();
  const pool = pooledFeatures(store, names.slice(0, nPool));
  const queries = pooledFeatures(store, names.slice(nPool));
  const tPool = t();
  t = timer();
  nearestNeighbours(queries, pool, dim);
  console.log(
    `synthetic ${nPool} pool + ${nQueries} query grids of ${locations}x${dim}: pooling ${tPool.toFixed(1)}s (incl. random fill), search ${t().toFixed(1)}s (${tf.getBackend()})`,
  );
  process.exit(0);
}
if (!values.ingest) throw new Error('--ingest DIR (an ingest stage folder with captions.arrow) is required');
const split = values.split as Split;
const frequent = Number(values.frequent);
const central = Number(values.central);
const row = (label: string, scores: CaptionScores) => console.log(`${label.padEnd(24)} ${METRIC_NAMES.map((k) => scores[k].toFixed(2).padStart(7)).join(' ')}`);

const references = readReferences(values.ingest, split);
const images = [...references.keys()];
const tokenized = images.map((image) => references.get(image)!.map(cocoTokenize));
console.log(`${split}: ${images.length} images; x100 ${METRIC_NAMES.join(' ')}`);
for (const caption of values.caption as string[]) {
  row(`"${caption.slice(0, 22)}"`, times100(scoreCaptions(tokenized.map((refs) => ({ candidate: cocoTokenize(caption), references: refs }))).corpus));
}

let t = timer();
const train = readReferences(values.ingest, 'train');
const candidates = constantCandidates(train, { frequent, central });
const tCandidates = t();
const selection = readReferences(values.ingest, split === 'val' ? 'train' : 'val');
const selectionRefs = [...selection.values()].map((refs) => refs.map(cocoTokenize));
for (const metric of ['CIDEr-D', 'BLEU-4'] as const) {
  t = timer();
  const choice = chooseConstantCaption(candidates, selectionRefs, metric);
  const seconds = t();
  console.log(
    `constant by ${metric}: "${choice.candidate.caption}" (${choice.candidate.source}, ${choice.candidate.count} in train), ${choice.candidates} candidates ` +
      `nominated in ${tCandidates.toFixed(1)}s, chosen on ${split === 'val' ? 'train' : 'val'} (${metric} ${(choice.selectionScore * 100).toFixed(2)}) in ${seconds.toFixed(1)}s`,
  );
  row(`constant (${metric})`, times100(scoreCaptions(tokenized.map((refs) => ({ candidate: choice.candidate.tokens, references: refs }))).corpus));
}

if (values.featurize) {
  await initBackend({ backend: values.backend as BackendChoice | undefined, quiet: true });
  const store = openFeatureStore(values.featurize);
  t = timer();
  const usable = images.filter((image) => store.has(image));
  const { report } = await runBaselines({ store, ingestDir: values.ingest, split, images: usable, references, config: { constantFrequent: 0, constantCentral: 0 } });
  const nn = report.rows.nearestNeighbour!;
  console.log(
    `nearest neighbour: ${nn.retrieval.poolImages} training images, mean cosine ${nn.retrieval.meanCosine.toFixed(3)}, ${t().toFixed(1)}s (pooling + search + consensus + scoring)`,
  );
  row('nearest neighbour', times100(nn.scores));
  store.close();
}
