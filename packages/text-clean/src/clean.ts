import { join } from 'node:path';
import { makeVector, Table, Utf8, vectorFromArray } from 'apache-arrow';
import { column, log, readArrowFile, timer, writeArrowFile, writeJsonAtomic } from '@captioner/core/node';

/** Python's `string.punctuation`. */
export const PYTHON_PUNCTUATION = '!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~';
const PUNCT = new Set(PYTHON_PUNCTUATION);
/** Python `str.isalpha`: non-empty and every character in Unicode categories Lu, Ll, Lt, Lm, Lo. */
const ALPHA = /^\p{L}+$/u;

import { END_TOKEN, START_TOKEN } from './contract.js';

export { START_TOKEN, END_TOKEN };

/** The tutorial's shortest kept word: 2 letters, so "a" (14% of reference tokens) is dropped. */
export const SEED_MIN_WORD_LENGTH = 2;

export interface CleanOptions {
  /**
   * Shortest word kept, in code points (as Python counts). 2 = the tutorial's rule exactly; 1 keeps
   * the articles ("a"), which the references are full of.
   */
  minWordLength?: number;
}

/**
 * The tutorial's cleaning rule, exactly (with the default minWordLength 2): lowercase; split on single
 * spaces (so tabs stay inside a word and double spaces give empty words); delete `string.punctuation`
 * characters; keep words of at least minWordLength characters (code points) that are alphabetic;
 * wrap in <sos> … <eos>.
 */
export function cleanWords(caption: string, opts: CleanOptions = {}): string[] {
  const min = Math.max(1, opts.minWordLength ?? SEED_MIN_WORD_LENGTH);
  return caption
    .toLowerCase()
    .split(' ')
    .map((w) => [...w].filter((ch) => !PUNCT.has(ch)).join(''))
    .filter((w) => [...w].length >= min && ALPHA.test(w));
}

export function cleanCaption(caption: string, opts: CleanOptions = {}): string {
  return [START_TOKEN, ...cleanWords(caption, opts), END_TOKEN].join(' ');
}

export interface TextCleanReport {
  /** The rule applied (so a reader of report.json knows whether "a" was kept). */
  minWordLength: number;
  captions: number;
  /** Captions left with no word at all (just <sos> <eos>): kept, so nothing is lost silently, but counted. */
  emptyAfterCleaning: number;
  wordsBefore: number;
  wordsAfter: number;
  seconds: number;
}

/** The text-clean stage: ingest/captions.arrow → text-clean/captions.arrow (+ report.json). */
export function runTextClean(opts: { ingestDir: string; outDir: string } & CleanOptions): TextCleanReport {
  const minWordLength = opts.minWordLength ?? SEED_MIN_WORD_LENGTH;
  const elapsed = timer();
  const src = join(opts.ingestDir, 'captions.arrow');
  const table = readArrowFile(src, 'ingest');
  const images = column<string>(table, 'image', src);
  const captions = column<string>(table, 'caption', src);
  const indexes = column<number>(table, 'caption_index', src);
  const splits = column<string>(table, 'split', src);
  const n = table.numRows;
  const cleaned: string[] = new Array(n);
  let empty = 0;
  let wordsBefore = 0;
  let wordsAfter = 0;
  for (let i = 0; i < n; i++) {
    const raw = captions.get(i);
    const words = cleanWords(raw, { minWordLength });
    wordsBefore += raw.split(' ').filter(Boolean).length;
    wordsAfter += words.length;
    if (words.length === 0) empty++;
    cleaned[i] = [START_TOKEN, ...words, END_TOKEN].join(' ');
  }
  const out = new Table({
    image: vectorFromArray(
      Array.from({ length: n }, (_, i) => images.get(i)),
      new Utf8(),
    ),
    caption_index: makeVector(Int32Array.from({ length: n }, (_, i) => indexes.get(i))),
    split: vectorFromArray(
      Array.from({ length: n }, (_, i) => splits.get(i)),
      new Utf8(),
    ),
    caption: vectorFromArray(cleaned, new Utf8()),
  });
  writeArrowFile(join(opts.outDir, 'captions.arrow'), out);
  const report: TextCleanReport = { minWordLength, captions: n, emptyAfterCleaning: empty, wordsBefore, wordsAfter, seconds: elapsed() };
  writeJsonAtomic(join(opts.outDir, 'report.json'), report);
  log('text-clean', `${n} captions cleaned, ${wordsAfter}/${wordsBefore} words kept${empty ? `, ${empty} left empty` : ''}`);
  return report;
}
