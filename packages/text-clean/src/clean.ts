import { join } from 'node:path';
import { makeVector, Table, Utf8, vectorFromArray } from 'apache-arrow';
import { column, log, readArrowFile, timer, writeArrowFile, writeJsonAtomic } from '@captioner/core';

/** Python's `string.punctuation`. */
export const PYTHON_PUNCTUATION = '!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~';
const PUNCT = new Set(PYTHON_PUNCTUATION);
/** Python `str.isalpha`: non-empty and every character in Unicode categories Lu, Ll, Lt, Lm, Lo. */
const ALPHA = /^\p{L}+$/u;

export const START_TOKEN = '<sos>';
export const END_TOKEN = '<eos>';

/**
 * The tutorial's cleaning rule, exactly: lowercase; split on single spaces (so tabs stay inside a
 * word and double spaces give empty words); delete `string.punctuation` characters; keep words of
 * more than one character (code points, as Python counts) that are alphabetic; wrap in <sos> … <eos>.
 */
export function cleanWords(caption: string): string[] {
  return caption
    .toLowerCase()
    .split(' ')
    .map((w) => [...w].filter((ch) => !PUNCT.has(ch)).join(''))
    .filter((w) => [...w].length > 1 && ALPHA.test(w));
}

export function cleanCaption(caption: string): string {
  return [START_TOKEN, ...cleanWords(caption), END_TOKEN].join(' ');
}

export interface TextCleanReport {
  captions: number;
  /** Captions left with no word at all (just <sos> <eos>): kept, so nothing is lost silently, but counted. */
  emptyAfterCleaning: number;
  wordsBefore: number;
  wordsAfter: number;
  seconds: number;
}

/** The text-clean stage: ingest/captions.arrow → text-clean/captions.arrow (+ report.json). */
export function runTextClean(opts: { ingestDir: string; outDir: string }): TextCleanReport {
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
    const words = cleanWords(raw);
    wordsBefore += raw.split(' ').filter(Boolean).length;
    wordsAfter += words.length;
    if (words.length === 0) empty++;
    cleaned[i] = [START_TOKEN, ...words, END_TOKEN].join(' ');
  }
  const out = new Table({
    image: vectorFromArray(Array.from({ length: n }, (_, i) => images.get(i)), new Utf8()),
    caption_index: makeVector(Int32Array.from({ length: n }, (_, i) => indexes.get(i))),
    split: vectorFromArray(Array.from({ length: n }, (_, i) => splits.get(i)), new Utf8()),
    caption: vectorFromArray(cleaned, new Utf8()),
  });
  writeArrowFile(join(opts.outDir, 'captions.arrow'), out);
  const report: TextCleanReport = { captions: n, emptyAfterCleaning: empty, wordsBefore, wordsAfter, seconds: elapsed() };
  writeJsonAtomic(join(opts.outDir, 'report.json'), report);
  log('text-clean', `${n} captions cleaned, ${wordsAfter}/${wordsBefore} words kept${empty ? `, ${empty} left empty` : ''}`);
  return report;
}
