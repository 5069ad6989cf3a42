/**
 * Chooses the decoding settings on validation data: every (beam width, length penalty, n-gram
 * block) of a grid decodes the same validation images with one loaded model, is scored like
 * `evaluate` scores (raw references, COCO tokenization), and the best CIDEr-D wins. The test split
 * is refused: it is only ever reported, never used to choose.
 */
import { join } from 'node:path';
import { CaptionerError } from '@captioner/core';
import { log, timer, writeJsonAtomic } from '@captioner/core/node';
import { tf } from '@captioner/tf';
import { beamSearch, greedyDecode, type DecodeResult } from '@captioner/model';
import { openFeatureStore } from '@captioner/featurize';
import { readReferences } from '@captioner/ingest';
import { cocoTokenize, scoreCaptions, type CaptionScores } from '@captioner/metrics';
import { loadTrainedModel } from './trained-model.js';

export interface DecodeSetting {
  /** 1 = greedy search. */
  beam: number;
  /** Beam score = logProb / length^lengthPenalty (ignored by greedy search). */
  lengthPenalty: number;
  /** Never repeat an n-gram of this size (0 = off). */
  noRepeatNgram: number;
}

export interface TuneRow {
  setting: DecodeSetting;
  /** x100, 2 decimals, as papers print them. */
  scores: CaptionScores;
  meanWords: number;
  /** Share of captions that ran into the length cap without <eos>. */
  capHitShare: number;
  distinctRatio: number;
  seconds: number;
}

export interface TuneReport {
  split: 'train' | 'val';
  images: number;
  maxSteps: number;
  rows: TuneRow[];
  /** The row with the highest CIDEr-D (ties: the first in grid order). */
  best: TuneRow;
}

export interface TuneDecodingOptions {
  modelDir: string;
  featurizeDir: string;
  ingestDir: string;
  split?: 'train' | 'val';
  settings: readonly DecodeSetting[];
  /** Decode at most this many images of the split (null = all). */
  limit?: number | null;
  batchSize?: number;
  maxSteps?: number | null;
  /** Where tune.json is written (atomically); null = not written. */
  outPath?: string | null;
}

/** The grid of every combination (beam widths × length penalties × n-gram blocks); greedy rows ignore the penalty. */
export function decodeGrid(beams: readonly number[], lengthPenalties: readonly number[], noRepeatNgrams: readonly number[]): DecodeSetting[] {
  const out: DecodeSetting[] = [];
  const seen = new Set<string>();
  for (const beam of beams) {
    for (const lengthPenalty of beam === 1 ? [lengthPenalties[0] ?? 1] : lengthPenalties) {
      for (const noRepeatNgram of noRepeatNgrams) {
        const key = `${beam}/${lengthPenalty}/${noRepeatNgram}`;
        if (!seen.has(key)) out.push({ beam, lengthPenalty, noRepeatNgram });
        seen.add(key);
      }
    }
  }
  return out;
}

const round2 = (x: number) => Math.round(x * 100) / 100;

export async function tuneDecoding(opts: TuneDecodingOptions): Promise<TuneReport> {
  const split = opts.split ?? 'val';
  if ((split as string) === 'test') throw new CaptionerError('tune-decoding: the test split is only reported, never used to choose; tune on val');
  if (opts.settings.length === 0) throw new CaptionerError('tune-decoding: empty grid');
  const trained = await loadTrainedModel(opts.modelDir);
  const { model } = trained;
  try {
    const store = openFeatureStore(opts.featurizeDir);
    const references = readReferences(opts.ingestDir, split);
    const inStore = new Set(store.images);
    let images = [...references.keys()].filter((image) => inStore.has(image));
    if (opts.limit != null) images = images.slice(0, opts.limit);
    if (images.length === 0) throw new CaptionerError(`tune-decoding: no ${split} images with features in ${opts.featurizeDir}`);
    const refs = images.map((image) => references.get(image)!.map(cocoTokenize));
    const maxSteps = opts.maxSteps ?? trained.defaultMaxSteps;
    const batchSize = opts.batchSize ?? 32;
    const { locations, featureDim } = model.config;
    const buffer = new Float32Array(batchSize * store.rowLength);
    const rows: TuneRow[] = [];
    for (const setting of opts.settings) {
      const clock = timer();
      const decoded: DecodeResult[] = [];
      const common = { startId: trained.startId, endId: trained.endId, maxLength: maxSteps, words: model.words, noRepeatNgram: setting.noRepeatNgram };
      for (let start = 0; start < images.length; start += batchSize) {
        const batch = images.slice(start, start + batchSize);
        const features = tf.tensor3d(store.getBatch(batch, buffer).subarray(0, batch.length * store.rowLength), [batch.length, locations, featureDim]);
        try {
          decoded.push(
            ...(setting.beam === 1 ? greedyDecode(model, features, common) : beamSearch(model, features, { ...common, beam: setting.beam, lengthPenalty: setting.lengthPenalty })),
          );
        } finally {
          features.dispose();
        }
      }
      const captions = decoded.map((r) => r.words.join(' '));
      const { corpus } = scoreCaptions(decoded.map((_, i) => ({ candidate: cocoTokenize(captions[i]), references: refs[i] })));
      const row: TuneRow = {
        setting,
        scores: Object.fromEntries(Object.entries(corpus).map(([k, v]) => [k, round2(v * 100)])) as unknown as CaptionScores,
        meanWords: round2(decoded.reduce((n, r) => n + r.words.length, 0) / decoded.length),
        capHitShare: decoded.filter((r) => !r.finished).length / decoded.length,
        distinctRatio: new Set(captions).size / captions.length,
        seconds: clock(),
      };
      rows.push(row);
      log(
        'tune-decoding',
        `beam ${setting.beam}, length penalty ${setting.lengthPenalty}, no-repeat ${setting.noRepeatNgram}: CIDEr-D ${row.scores['CIDEr-D'].toFixed(2)}, ` +
          `BLEU-4 ${row.scores['BLEU-4'].toFixed(2)}, ${row.meanWords.toFixed(1)} words, ${(row.capHitShare * 100).toFixed(1)}% capped (${row.seconds.toFixed(1)} s)`,
      );
    }
    const best = rows.reduce((a, r) => (r.scores['CIDEr-D'] > a.scores['CIDEr-D'] ? r : a));
    const report: TuneReport = { split, images: images.length, maxSteps, rows, best };
    if (opts.outPath) writeJsonAtomic(opts.outPath, report);
    log(
      'tune-decoding',
      `best on ${images.length} ${split} images: beam ${best.setting.beam}, lengthPenalty ${best.setting.lengthPenalty}, noRepeatNgram ${best.setting.noRepeatNgram} (CIDEr-D ${best.scores['CIDEr-D'].toFixed(2)})`,
    );
    return report;
  } finally {
    model.dispose();
  }
}

/** Default output path next to the evaluate stage's outputs. */
export function tuneReportPath(evaluateDir: string): string {
  return join(evaluateDir, 'tune-decoding.json');
}
