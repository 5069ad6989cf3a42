import { join } from 'node:path';
import { Field, FixedSizeList, Int32, makeData, makeVector, Table, Utf8, vectorFromArray, type Vector } from 'apache-arrow';
import { CaptionerError, type TokenizeConfig } from '@captioner/core';
import { column, log, readArrowFile, timer, writeArrowFile, writeJsonAtomic } from '@captioner/core/node';
import { KerasTokenizer, padPost, type VocabJson } from './tokenizer.js';

export interface TokenizeReport {
  captions: number;
  fitCaptions: number;
  distinctTrainWords: number;
  numWords: number;
  maxLength: number;
  longestCaption: number;
  truncated: number;
  /** Share of non-pad tokens in all splits that encode as <unk>. */
  unkRate: number;
  rule: string;
  seconds: number;
}

/** Builds a FixedSizeList<Int32>[width] vector over a flat row-major Int32Array. */
export function fixedSizeListInt32(flat: Int32Array, width: number): Vector {
  const child = makeData({ type: new Int32(), length: flat.length, data: flat });
  const type = new FixedSizeList(width, new Field('item', new Int32(), false));
  return makeVector(makeData({ type, length: flat.length / width, nullCount: 0, child }));
}

/** The tokenize stage: fit on the training split only, encode every split, pad post to maxLength. */
export function runTokenize(opts: { cleanDir: string; outDir: string; config: TokenizeConfig }): TokenizeReport {
  const elapsed = timer();
  const src = join(opts.cleanDir, 'captions.arrow');
  const table = readArrowFile(src, 'text-clean');
  const captions = column<string>(table, 'caption', src);
  const splits = column<string>(table, 'split', src);
  const n = table.numRows;
  const texts = Array.from({ length: n }, (_, i) => captions.get(i));
  const splitOf = Array.from({ length: n }, (_, i) => splits.get(i));
  const trainTexts = texts.filter((_, i) => splitOf[i] === 'train');
  if (trainTexts.length === 0) throw new CaptionerError(`${src}: no captions in the train split; the tokenizer fits on train only`);

  // Fit once to rank words; with minCount the vocabulary is the (count-sorted) prefix seen often enough.
  const ranking = new KerasTokenizer({ numWords: opts.config.numWords }).fit(trainTexts);
  let numWords = opts.config.numWords;
  let rule = `top ${numWords - 1} words by training-split count (Keras num_words=${numWords})`;
  if (opts.config.minCount !== null) {
    const kept = [...ranking.wordCounts.values()].filter((c) => c >= opts.config.minCount!).length;
    numWords = kept + 2;
    rule = `${kept} words seen >= ${opts.config.minCount} times in the training split (num_words=${numWords})`;
  }
  const tokenizer = new KerasTokenizer({ numWords });
  tokenizer.wordCounts = ranking.wordCounts;
  tokenizer.wordIndex = ranking.wordIndex;

  const sequences = texts.map((t) => tokenizer.encode(t));
  const longest = sequences.reduce((m, s) => Math.max(m, s.length), 0);
  const maxLength = opts.config.maxLength === null ? longest : Math.min(longest, opts.config.maxLength);
  const flat = new Int32Array(n * maxLength);
  const lengths = new Int32Array(n);
  let truncated = 0;
  let unk = 0;
  let tokens = 0;
  sequences.forEach((seq, i) => {
    lengths[i] = padPost(seq, maxLength, flat, i * maxLength);
    if (seq.length > maxLength) truncated++;
    for (const id of seq) if (id === 1) unk++;
    tokens += seq.length;
  });

  const images = column<string>(table, 'image', src);
  const indexes = column<number>(table, 'caption_index', src);
  const out = new Table({
    image: vectorFromArray(
      Array.from({ length: n }, (_, i) => images.get(i)),
      new Utf8(),
    ),
    caption_index: makeVector(Int32Array.from({ length: n }, (_, i) => indexes.get(i))),
    split: vectorFromArray(splitOf, new Utf8()),
    tokens: fixedSizeListInt32(flat, maxLength),
    length: makeVector(lengths),
  });
  const vocab: VocabJson = tokenizer.toJson(maxLength, rule);
  writeArrowFile(join(opts.outDir, 'tokens.arrow'), out);
  writeJsonAtomic(join(opts.outDir, 'vocab.json'), vocab);
  const report: TokenizeReport = {
    captions: n,
    fitCaptions: trainTexts.length,
    distinctTrainWords: ranking.wordCounts.size,
    numWords,
    maxLength,
    longestCaption: longest,
    truncated,
    unkRate: tokens ? unk / tokens : 0,
    rule,
    seconds: elapsed(),
  };
  writeJsonAtomic(join(opts.outDir, 'report.json'), report);
  log('tokenize', `${rule}; ${ranking.wordCounts.size} distinct training words; max_length ${maxLength}; <unk> rate ${(report.unkRate * 100).toFixed(2)}%`);
  return report;
}
