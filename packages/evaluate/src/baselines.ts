/**
 * Two trivial captioners that every results table is measured against (issue 12):
 * - the best constant caption: one training caption given for every image, chosen on a split
 *   other than the evaluated one;
 * - nearest-neighbour retrieval: the consensus caption of the training image whose mean-pooled
 *   feature grid is closest (cosine) to the evaluated image's.
 * A decoding row that does not clearly beat both is flagged (`baselineWarnings`).
 */
import { CaptionerError } from '@captioner/core';
import type { FeatureStore } from '@captioner/featurize';
import { bleuScorer, ciderDScorer, cocoTokenize, corpusBleuFromStats, type CaptionScores, type CiderVector } from '@captioner/metrics';
import { tf } from '@captioner/tf';
import type { BaselineWarning } from './contract.js';

// ------------------------------------------------------------------ constant caption

export interface ConstantCandidate {
  /** The raw training caption (first occurrence of its tokenized form). */
  caption: string;
  tokens: string[];
  /** Training captions with this tokenized form. */
  count: number;
  /** Why it is a candidate: among the most frequent, the most central, or both. */
  source: 'frequent' | 'central' | 'both';
  /** Mean unclipped CIDEr-D-style cosine against every training caption (see constantCandidates). */
  centrality: number;
}

/**
 * Candidate constant captions from the training captions (raw, per image): the `frequent` most
 * common tokenized captions and the `central` ones with the highest centrality, deduplicated.
 *
 * Centrality is CIDEr-D's per-order cosine without the clipping and the length penalty, averaged
 * against every training caption: with tf-idf vectors v (document frequencies over the training
 * images), mean_r cos(v, r) = v · (Σ_r r/|r|) / (|v| M), one dot product with a precomputed
 * centroid per order, so all ~30k Flickr8k captions are ranked in about a second. It only nominates
 * candidates; the choice among them is made with the real CIDEr-D (`chooseConstantCaption`).
 */
export function constantCandidates(train: ReadonlyMap<string, readonly string[]>, opts: { frequent: number; central: number }): ConstantCandidate[] {
  const documents = [...train.values()].map((captions) => captions.map(cocoTokenize));
  if (documents.length === 0) throw new CaptionerError('constant-caption baseline: no training captions');
  const scorer = ciderDScorer(documents);
  const raw = [...train.values()].flat();
  const byKey = new Map<string, { caption: string; tokens: string[]; count: number; first: number }>();
  documents.flat().forEach((tokens, i) => {
    if (tokens.length === 0) return;
    const key = tokens.join(' ');
    const entry = byKey.get(key);
    if (entry) entry.count++;
    else byKey.set(key, { caption: raw[i], tokens, count: 1, first: i });
  });
  const unique = [...byKey.values()];

  // Centroid of the per-order unit vectors of every training caption (duplicates counted).
  const vectors = unique.map((u) => scorer.vector(u.tokens));
  const centroid = new Map<string, number>();
  let total = 0;
  unique.forEach((u, i) => {
    const v = vectors[i];
    v.grams.forEach((gram, g) => {
      const norm = v.norms[v.orders[g] - 1];
      if (norm > 0) centroid.set(gram, (centroid.get(gram) ?? 0) + (u.count * v.values[g]) / norm);
    });
    total += u.count;
  });
  const centrality = vectors.map((v) => centralityOf(v, centroid, total));

  const byFrequency = unique.map((_, i) => i).sort((a, b) => unique[b].count - unique[a].count || unique[a].first - unique[b].first);
  const byCentrality = unique.map((_, i) => i).sort((a, b) => centrality[b] - centrality[a] || unique[a].first - unique[b].first);
  const frequent = new Set(byFrequency.slice(0, opts.frequent));
  const central = new Set(byCentrality.slice(0, opts.central));
  const chosen = [...new Set([...byFrequency.slice(0, opts.frequent), ...byCentrality.slice(0, opts.central)])];
  return chosen.map((i) => ({
    caption: unique[i].caption,
    tokens: unique[i].tokens,
    count: unique[i].count,
    source: frequent.has(i) && central.has(i) ? 'both' : frequent.has(i) ? 'frequent' : 'central',
    centrality: centrality[i],
  }));
}

function centralityOf(v: CiderVector, centroid: ReadonlyMap<string, number>, total: number): number {
  const dots = new Array<number>(v.norms.length).fill(0);
  v.grams.forEach((gram, g) => (dots[v.orders[g] - 1] += v.values[g] * (centroid.get(gram) ?? 0)));
  let sum = 0;
  for (let k = 0; k < dots.length; k++) if (v.norms[k] > 0) sum += dots[k] / (v.norms[k] * total);
  return sum / dots.length;
}

export interface ConstantChoice {
  candidate: ConstantCandidate;
  metric: ConstantMetric;
  /** The chosen caption's corpus score on the selection split, 0–1 scale (CIDEr-D: 0–10). */
  selectionScore: number;
  /** Candidates scored. */
  candidates: number;
}

export type ConstantMetric = 'CIDEr-D' | 'BLEU-4';

/**
 * The candidate with the highest corpus `metric` when given for every image of the selection split
 * (`selectionReferences`: per image, its tokenized references; CIDEr-D's document frequencies over
 * them, as pycocoevalcap would count them). Ties keep the earlier candidate. Only these references
 * are read: the evaluated split's never enter the choice.
 *
 * Both metrics are used, as two baseline rows: CIDEr-D (the metric checkpoints are selected by)
 * picks a specific, content-bearing caption; BLEU-4 rewards a constant caption for matching the
 * reference length with common words ("a man in a red shirt ...") and gives the higher BLEU bar.
 */
export function chooseConstantCaption(
  candidates: readonly ConstantCandidate[],
  selectionReferences: readonly (readonly string[][])[],
  metric: ConstantMetric = 'CIDEr-D',
): ConstantChoice {
  if (candidates.length === 0) throw new CaptionerError('constant-caption baseline: no candidates');
  if (selectionReferences.length === 0) throw new CaptionerError('constant-caption baseline: no selection images');
  let score: (c: ConstantCandidate) => number;
  if (metric === 'CIDEr-D') {
    const scorer = ciderDScorer(selectionReferences);
    score = (c) => {
      const v = scorer.vector(c.tokens);
      let sum = 0;
      for (let d = 0; d < scorer.documents; d++) sum += scorer.scoreDocument(v, d);
      return sum / scorer.documents;
    };
  } else {
    const scorer = bleuScorer(selectionReferences);
    score = (c) => {
      const prepared = scorer.candidate(c.tokens);
      return corpusBleuFromStats(Array.from({ length: scorer.documents }, (_, d) => scorer.stats(prepared, d)))[3];
    };
  }
  let best = -1;
  let bestScore = -Infinity;
  candidates.forEach((c, i) => {
    const s = score(c);
    if (s > bestScore) {
      bestScore = s;
      best = i;
    }
  });
  return { candidate: candidates[best], metric, selectionScore: bestScore, candidates: candidates.length };
}

// ------------------------------------------------------------------ nearest-neighbour retrieval

/**
 * Mean over locations of each image's feature grid, L2-normalised (a zero vector stays zero), as
 * `images.length x dim`. Images are read `batch` at a time in feature-store order (each shard is
 * loaded once) and pooled as they are read: only one batch of grids is ever held.
 */
export function pooledFeatures(store: FeatureStore, images: readonly string[], batch = 64): Float32Array {
  const { locations, dim } = store.manifest;
  const out = new Float32Array(images.length * dim);
  const position = new Map(store.images.map((image, i) => [image, i]));
  const order = images.map((_, i) => i).sort((a, b) => position.get(images[a])! - position.get(images[b])!);
  const buffer = new Float32Array(batch * store.rowLength);
  for (let start = 0; start < order.length; start += batch) {
    const idx = order.slice(start, start + batch);
    const grids = store.getBatch(
      idx.map((i) => images[i]),
      buffer,
    ); // [idx.length, locations, dim]
    idx.forEach((target, b) => {
      const pooled = out.subarray(target * dim, (target + 1) * dim); // [dim]
      const base = b * store.rowLength;
      for (let l = 0; l < locations; l++) {
        const row = base + l * dim;
        for (let d = 0; d < dim; d++) pooled[d] += grids[row + d];
      }
      let norm = 0;
      for (let d = 0; d < dim; d++) norm += pooled[d] * pooled[d];
      norm = Math.sqrt(norm);
      if (norm > 0) for (let d = 0; d < dim; d++) pooled[d] /= norm;
    });
  }
  return out;
}

export interface Neighbour {
  /** Index into the pool. */
  index: number;
  cosine: number;
}

/**
 * For each query vector (rows of `queries`, L2-normalised, `dim` wide) the pool row with the highest
 * cosine; `exclude[q]` (a pool index, or -1) is never returned for query q (an image is not its own
 * neighbour when the evaluated split is the pool). Ties go to the lower pool index.
 */
export function nearestNeighbours(queries: Float32Array, pool: Float32Array, dim: number, exclude: readonly number[] = [], chunk = 256): Neighbour[] {
  const nq = queries.length / dim;
  const np = pool.length / dim;
  if (!Number.isInteger(nq) || !Number.isInteger(np)) throw new CaptionerError(`nearestNeighbours: arrays are not multiples of dim ${dim}`);
  if (np === 0) throw new CaptionerError('nearestNeighbours: empty pool');
  const out: Neighbour[] = [];
  const poolT = tf.tensor2d(pool, [np, dim]);
  try {
    for (let start = 0; start < nq; start += chunk) {
      const rows = Math.min(chunk, nq - start);
      const sims = tf.tidy(() => tf.matMul(tf.tensor2d(queries.subarray(start * dim, (start + rows) * dim), [rows, dim]), poolT, false, true)); // [rows, np]
      const values = sims.dataSync();
      sims.dispose();
      for (let r = 0; r < rows; r++) {
        const skip = exclude[start + r] ?? -1;
        let best = -1;
        let bestValue = -Infinity;
        for (let p = 0; p < np; p++) {
          if (p === skip) continue;
          const v = values[r * np + p];
          if (v > bestValue) {
            bestValue = v;
            best = p;
          }
        }
        out.push({ index: best, cosine: bestValue });
      }
    }
  } finally {
    poolT.dispose();
  }
  return out;
}

/**
 * Which of a training image's captions retrieval returns: the consensus caption, the one with the
 * highest CIDEr-D against the image's other captions (document frequencies over the training
 * images, `scorer`), as in Devlin et al. 2015. Ties (and a single caption) go to the lowest index.
 */
export function consensusCaptionIndex(captions: readonly string[][], scorer: { score(candidate: readonly string[], references: readonly (readonly string[])[]): number }): number {
  if (captions.length <= 1) return 0;
  let best = 0;
  let bestScore = -Infinity;
  captions.forEach((c, i) => {
    const score = scorer.score(
      c,
      captions.filter((_, j) => j !== i),
    );
    if (score > bestScore) {
      bestScore = score;
      best = i;
    }
  });
  return best;
}

// ------------------------------------------------------------------ warnings

export type { BaselineWarning } from './contract.js';

/**
 * A decoding row clearly beats the baselines when its CIDEr-D (x100) is at least `marginCiderD`
 * above the best baseline's CIDEr-D and its BLEU-4 (x100) is not below the best baseline's BLEU-4
 * ("best" per metric, over all baselines). Each failed condition is one warning.
 */
export function baselineWarnings(rows: Readonly<Record<string, CaptionScores>>, baselines: Readonly<Record<string, CaptionScores>>, marginCiderD: number): BaselineWarning[] {
  const names = Object.keys(baselines);
  if (names.length === 0) return [];
  const best = (metric: 'CIDEr-D' | 'BLEU-4') => names.reduce((a, b) => (baselines[b][metric] > baselines[a][metric] ? b : a));
  const warnings: BaselineWarning[] = [];
  for (const [row, scores] of Object.entries(rows)) {
    const c = best('CIDEr-D');
    const cRequired = round2(baselines[c]['CIDEr-D'] + marginCiderD);
    if (scores['CIDEr-D'] < cRequired) {
      warnings.push({
        row,
        metric: 'CIDEr-D',
        value: scores['CIDEr-D'],
        baseline: c,
        baselineValue: baselines[c]['CIDEr-D'],
        required: cRequired,
        message: `${row}: CIDEr-D ${scores['CIDEr-D']} does not clearly beat the ${c} baseline's ${baselines[c]['CIDEr-D']} (needs >= ${cRequired}, margin ${marginCiderD})`,
      });
    }
    const b = best('BLEU-4');
    if (scores['BLEU-4'] < baselines[b]['BLEU-4']) {
      warnings.push({
        row,
        metric: 'BLEU-4',
        value: scores['BLEU-4'],
        baseline: b,
        baselineValue: baselines[b]['BLEU-4'],
        required: baselines[b]['BLEU-4'],
        message: `${row}: BLEU-4 ${scores['BLEU-4']} is below the ${b} baseline's ${baselines[b]['BLEU-4']}`,
      });
    }
  }
  return warnings;
}

const round2 = (x: number) => Math.round(x * 100) / 100;
