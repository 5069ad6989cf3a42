import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeVector, Table, Utf8, vectorFromArray } from 'apache-arrow';
import { describe, expect, it } from 'vitest';
import { readArrowFile, writeArrowFile } from '@captioner/core';
import { cleanCaption, cleanWords, runTextClean } from './clean.js';

// Expected values worked out from the Python rule:
//   words = caption.lower().split(' '); words = [w.translate(no punctuation)]; keep len(w) > 1 and w.isalpha()
describe('cleanCaption (the tutorial rule)', () => {
  it.each([
    ['A child in a pink dress is climbing up a set of stairs in an entry way .', '<sos> child in pink dress is climbing up set of stairs in an entry way <eos>'],
    ["The dog's ball , red .", '<sos> the dogs ball red <eos>'], // apostrophe is string.punctuation: "dog's" → "dogs"
    ['Two  dogs', '<sos> two dogs <eos>'], // double space → empty word, dropped
    ['a I x', '<sos> <eos>'], // one-letter words go
    ['3 dogs and 2nd cat', '<sos> dogs and cat <eos>'], // "3", "2nd" are not alphabetic
    ['well-known e-mail', '<sos> wellknown email <eos>'], // hyphen deleted, not split on
    ['tab\there', '<sos> <eos>'], // split is on single spaces only: "tab\there" is one non-alphabetic word
    ['Café NAÏVE', '<sos> café naïve <eos>'], // isalpha is Unicode-aware
    ['<sos>', '<sos> sos <eos>'], // < and > are punctuation
  ])('%j → %j', (input, expected) => expect(cleanCaption(input)).toBe(expected));

  it('counts length in code points as Python does', () => {
    expect(cleanWords('𝒜 ab')).toEqual(['ab']); // one astral letter is length 1 in Python (2 UTF-16 units in JS)
  });
});

describe('runTextClean', () => {
  it('keeps image/caption_index/split and cleans every caption', () => {
    const dir = mkdtempSync(join(tmpdir(), 'clean-'));
    writeArrowFile(
      join(dir, 'ingest', 'captions.arrow'),
      new Table({
        image: vectorFromArray(['a.jpg', 'a.jpg'], new Utf8()),
        caption: vectorFromArray(['A Dog .', '!!'], new Utf8()),
        caption_index: makeVector(Int32Array.from([0, 1])),
        split: vectorFromArray(['train', 'train'], new Utf8()),
      }),
    );
    const report = runTextClean({ ingestDir: join(dir, 'ingest'), outDir: join(dir, 'text-clean') });
    const out = readArrowFile(join(dir, 'text-clean', 'captions.arrow'));
    expect(out.toArray().map((r) => r.toJSON())).toEqual([
      { image: 'a.jpg', caption_index: 0, split: 'train', caption: '<sos> dog <eos>' },
      { image: 'a.jpg', caption_index: 1, split: 'train', caption: '<sos> <eos>' },
    ]);
    expect(report.emptyAfterCleaning).toBe(1);
  });

  it('names the missing upstream file and how to produce it', () => {
    expect(() => runTextClean({ ingestDir: '/nonexistent', outDir: '/tmp/x' })).toThrow(/missing input \/nonexistent\/captions\.arrow.*ingest/);
  });
});
