/**
 * The evaluate stage's baseline rows: reads the training (and selection) captions, runs the two
 * baselines of baselines.ts on the evaluated images and scores them exactly like the model's captions.
 */
import { CaptionerError, type EvaluateConfig } from '@captioner/core';
import { log, timer } from '@captioner/core/node';
import type { FeatureStore } from '@captioner/featurize';
import { ciderDScorer, cocoTokenize, scoreCaptions } from '@captioner/metrics';
import { readReferences, type Split } from './references.js';
import { chooseConstantCaption, consensusCaptionIndex, constantCandidates, nearestNeighbours, pooledFeatures } from './baselines.js';
import { cleanedReferenceTokens, times100 } from './scoring.js';
import type { BaselineRow, BaselinesReport } from './contract.js';

const STAGE = 'evaluate';

export type { BaselineRow, ConstantBaselineRow, NearestNeighbourRow, BaselinesReport } from './contract.js';

export interface BaselinesResult {
  report: BaselinesReport;
  /** Per evaluated image: the nearest-neighbour caption, its source image and cosine, for predictions.jsonl. */
  perImage: Map<string, Record<string, unknown>>;
}

function tryReferences(ingestDir: string, split: Split): Map<string, string[]> | string {
  try {
    return readReferences(ingestDir, split);
  } catch (e) {
    if (e instanceof CaptionerError) return e.message;
    throw e;
  }
}

function scoreRow(captions: readonly string[], rawReferences: readonly string[][], seconds: number, minWordLength?: number): BaselineRow {
  const candidates = captions.map(cocoTokenize);
  const scores = scoreCaptions(candidates.map((candidate, i) => ({ candidate, references: rawReferences[i].map(cocoTokenize) })));
  const cleaned = scoreCaptions(candidates.map((candidate, i) => ({ candidate, references: rawReferences[i].map((r) => cleanedReferenceTokens(r, { minWordLength })) })));
  return {
    scores: scores.corpus,
    x100CleanedReferences: times100(cleaned.corpus),
    stats: {
      bleuLengths: scores.bleuLengths,
      meanWords: candidates.reduce((n, c) => n + c.length, 0) / candidates.length,
      distinctRatio: new Set(captions).size / captions.length,
    },
    seconds,
  };
}

/**
 * Both baselines on `images` (the evaluated images, in evaluation order) of `split`. Candidates and
 * the retrieval pool come from the training split; the constant caption is chosen on val (train
 * when val is the evaluated split) and never looks at `references`' split.
 */
export async function runBaselines(opts: {
  store: FeatureStore;
  ingestDir: string;
  split: Split;
  images: readonly string[];
  /** The evaluated split's raw references by image. */
  references: ReadonlyMap<string, string[]>;
  config: Pick<EvaluateConfig, 'constantFrequent' | 'constantCentral'>;
  /** text-clean's minWordLength of the run, for the cleaned-reference scores. */
  minWordLength?: number;
}): Promise<BaselinesResult> {
  const { store, images, config } = opts;
  const report: BaselinesReport = { rows: {}, skipped: [] };
  const perImage = new Map<string, Record<string, unknown>>();
  const rawRefs = images.map((image) => opts.references.get(image)!);
  const train = tryReferences(opts.ingestDir, 'train');
  if (typeof train === 'string') {
    for (const name of ['constant', 'nearestNeighbour']) report.skipped.push({ name, reason: `no training captions: ${train}` });
    return { report, perImage };
  }

  // Constant caption, chosen by CIDEr-D (`constant`) and by BLEU-4 (`constantBleu4`).
  let t = timer();
  const selectionSplit: Split = opts.split === 'val' ? 'train' : 'val';
  const selection = tryReferences(opts.ingestDir, selectionSplit);
  const constantRows = { constant: 'CIDEr-D', constantBleu4: 'BLEU-4' } as const;
  if (typeof selection === 'string') {
    for (const name of Object.keys(constantRows)) report.skipped.push({ name, reason: `no ${selectionSplit} split to choose it on: ${selection}` });
  } else if (config.constantFrequent + config.constantCentral === 0) {
    for (const name of Object.keys(constantRows)) report.skipped.push({ name, reason: 'evaluate.constantFrequent + evaluate.constantCentral is 0: no candidates' });
  } else {
    const candidates = constantCandidates(train, { frequent: config.constantFrequent, central: config.constantCentral });
    const selectionRefs = [...selection.values()].map((refs) => refs.map(cocoTokenize));
    const nominated = t();
    for (const [name, metric] of Object.entries(constantRows)) {
      t = timer();
      const choice = chooseConstantCaption(candidates, selectionRefs, metric);
      const { caption } = choice.candidate;
      const row = scoreRow(
        images.map(() => caption),
        rawRefs,
        0,
        opts.minWordLength,
      );
      row.seconds = t() + nominated;
      report.rows[name as keyof typeof constantRows] = {
        caption,
        selection: {
          split: selectionSplit,
          metric,
          score: Math.round(choice.selectionScore * 10000) / 100,
          candidates: choice.candidates,
          frequent: config.constantFrequent,
          central: config.constantCentral,
          source: choice.candidate.source,
          trainCount: choice.candidate.count,
        },
        ...row,
      };
      log(STAGE, `constant-caption baseline by ${metric}: "${caption}" (best of ${choice.candidates} candidates on ${selectionSplit}, ${row.seconds.toFixed(1)}s)`);
    }
  }

  // Nearest-neighbour retrieval on the model's features.
  t = timer();
  const pool = [...train.keys()].filter((image) => store.has(image));
  if (pool.length === 0) {
    report.skipped.push({ name: 'nearestNeighbour', reason: 'no training image has features in the feature store' });
    return { report, perImage };
  }
  const dim = store.manifest.dim;
  const poolVectors = pooledFeatures(store, pool); // [pool, dim]
  const queryVectors = pooledFeatures(store, images); // [images, dim]
  const poolIndex = new Map(pool.map((image, i) => [image, i]));
  const neighbours = nearestNeighbours(
    queryVectors,
    poolVectors,
    dim,
    images.map((image) => poolIndex.get(image) ?? -1),
  );
  const scorer = ciderDScorer([...train.values()].map((captions) => captions.map(cocoTokenize)));
  const chosen = new Map<number, number>();
  const captions = neighbours.map((n) => {
    const own = train.get(pool[n.index])!;
    let k = chosen.get(n.index);
    if (k === undefined) chosen.set(n.index, (k = consensusCaptionIndex(own.map(cocoTokenize), scorer)));
    return own[k];
  });
  const row = scoreRow(captions, rawRefs, 0, opts.minWordLength);
  row.seconds = t();
  report.rows.nearestNeighbour = {
    retrieval: {
      pool: 'train',
      poolImages: pool.length,
      pooling: 'mean over locations',
      similarity: 'cosine',
      captionChoice: 'consensus',
      meanCosine: neighbours.reduce((a, n) => a + n.cosine, 0) / neighbours.length,
    },
    ...row,
  };
  images.forEach((image, i) => {
    perImage.set(image, { nearestNeighbour: captions[i], nearestNeighbourImage: pool[neighbours[i].index], nearestNeighbourCosine: Math.round(neighbours[i].cosine * 1e4) / 1e4 });
  });
  log(STAGE, `nearest-neighbour baseline: ${pool.length} training images pooled and searched in ${row.seconds.toFixed(1)}s`);
  return { report, perImage };
}
