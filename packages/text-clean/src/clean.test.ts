import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeVector, Table, Utf8, vectorFromArray } from 'apache-arrow';
import { describe, expect, it } from 'vitest';
import { readArrowFile, writeArrowFile } from '@captioner/core/node';
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

describe('minWordLength 1 (keeps the articles)', () => {
  it.each([
    ['A child in a pink dress .', '<sos> a child in a pink dress <eos>'],
    ['a I x', '<sos> a i x <eos>'],
    ['3 dogs , 2nd a-frame', '<sos> dogs aframe <eos>'], // digits still go; punctuation still deleted
    ['Two  dogs', '<sos> two dogs <eos>'], // the empty word from a double space is never kept
  ])('%j → %j', (input, expected) => expect(cleanCaption(input, { minWordLength: 1 })).toBe(expected));

  it('minWordLength 2 is the default and the tutorial rule', () => {
    const caption = 'A dog in a field .';
    expect(cleanCaption(caption, { minWordLength: 2 })).toBe(cleanCaption(caption));
    expect(cleanCaption(caption)).toBe('<sos> dog in field <eos>');
  });

  it('minWordLength 3 drops two-letter words too', () => {
    expect(cleanWords('A dog in an old field', { minWordLength: 3 })).toEqual(['dog', 'old', 'field']);
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
    expect(report.minWordLength).toBe(2);
    const kept = runTextClean({ ingestDir: join(dir, 'ingest'), outDir: join(dir, 'kept'), minWordLength: 1 });
    expect(
      readArrowFile(join(dir, 'kept', 'captions.arrow'))
        .getChild('caption')!
        .toArray(),
    ).toEqual(['<sos> a dog <eos>', '<sos> <eos>']);
    expect(kept.minWordLength).toBe(1);
  });

  it('names the missing upstream file and how to produce it', () => {
    expect(() => runTextClean({ ingestDir: '/nonexistent', outDir: '/tmp/x' })).toThrow(/missing input \/nonexistent\/captions\.arrow.*ingest/);
  });
});
