import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeVector, Table, Utf8, vectorFromArray } from 'apache-arrow';
import { describe, expect, it } from 'vitest';
import { tokenizeSchema } from '@captioner/core';
import { readArrowFile, writeArrowFile } from '@captioner/core/node';
import { indexToWord, KerasTokenizer, padPost } from './tokenizer.js';
import { runTokenize } from './tokenize.js';

// Cases worked out by hand from Keras's documented Tokenizer rules (fit_on_texts / texts_to_sequences):
// counts: <sos> 3, <eos> 3, dog 3, a 2, cat 1, runs 1 (first occurrence order: <sos>, a, dog, runs, <eos>, cat)
// sorted by count desc, ties by first occurrence: <sos>, dog, <eos>, a, runs, cat  (<sos> and dog and <eos>
// tie at 3: first seen <sos> (text 1), dog (text 1), <eos> (text 1) — in that order within text 1: <sos>, a, dog, runs, <eos>)
const texts = ['<sos> a dog runs <eos>', '<sos> a dog <eos>', '<sos> dog cat <eos>'];

describe('KerasTokenizer', () => {
  it('ranks by count, ties by first occurrence, <unk> = 1', () => {
    const t = new KerasTokenizer({ numWords: 100 }).fit(texts);
    expect(Object.fromEntries(t.wordIndex)).toEqual({ '<unk>': 1, '<sos>': 2, dog: 3, '<eos>': 4, a: 5, runs: 6, cat: 7 });
  });

  it('maps ids >= num_words and unseen words to <unk>', () => {
    // num_words = 5 keeps ids 1..4: <unk>, <sos>, dog, <eos>; "a" (5), "runs" (6) become <unk>
    const t = new KerasTokenizer({ numWords: 5 }).fit(texts);
    expect(t.encode('<sos> a dog runs zebra <eos>')).toEqual([2, 1, 3, 1, 1, 4]);
  });

  it('applies the tutorial filters: keeps < and >, splits on the others, lowercases', () => {
    const t = new KerasTokenizer({ numWords: 100 });
    expect(t.words('<sos> A,dog!  RUNS. <eos>')).toEqual(['<sos>', 'a', 'dog', 'runs', '<eos>']);
  });

  it('round-trips through vocab.json and decodes ids to words with <pad> = 0', () => {
    const t = new KerasTokenizer({ numWords: 5 }).fit(texts);
    const json = t.toJson(6, 'test');
    expect(json.vocabSize).toBe(6);
    expect(KerasTokenizer.fromJson(json).encode('<sos> dog a <eos>')).toEqual([2, 3, 1, 4]);
    expect(indexToWord(json)).toEqual(['<pad>', '<unk>', '<sos>', 'dog', '<eos>']);
  });

  it('pads post with 0 and keeps the last token when truncating', () => {
    const out = new Int32Array(8);
    expect(padPost([2, 5, 4], 4, out, 0)).toBe(3);
    expect(padPost([2, 5, 6, 7, 4], 4, out, 4)).toBe(4);
    expect([...out]).toEqual([2, 5, 4, 0, 2, 5, 6, 4]);
  });
});

describe('runTokenize', () => {
  function cleanDir(rows: [string, string, string][]): string {
    const dir = mkdtempSync(join(tmpdir(), 'tok-'));
    writeArrowFile(
      join(dir, 'text-clean', 'captions.arrow'),
      new Table({
        image: vectorFromArray(
          rows.map((r) => r[0]),
          new Utf8(),
        ),
        caption_index: makeVector(Int32Array.from(rows.map(() => 0))),
        split: vectorFromArray(
          rows.map((r) => r[1]),
          new Utf8(),
        ),
        caption: vectorFromArray(
          rows.map((r) => r[2]),
          new Utf8(),
        ),
      }),
    );
    return dir;
  }

  it('fits on the training split only and pads every split to the longest caption', () => {
    const dir = cleanDir([
      ['a.jpg', 'train', '<sos> dog runs <eos>'],
      ['b.jpg', 'train', '<sos> dog <eos>'],
      ['c.jpg', 'test', '<sos> zebra zebra zebra dog <eos>'],
    ]);
    const report = runTokenize({ cleanDir: join(dir, 'text-clean'), outDir: join(dir, 'tokenize'), config: tokenizeSchema.parse({}) });
    const vocab = JSON.parse(readFileSync(join(dir, 'tokenize', 'vocab.json'), 'utf8'));
    expect(vocab.wordIndex).toEqual({ '<unk>': 1, '<sos>': 2, dog: 3, '<eos>': 4, runs: 5 }); // no "zebra": test split
    const table = readArrowFile(join(dir, 'tokenize', 'tokens.arrow'));
    const tokens = table.getChild('tokens')!;
    expect([...tokens.get(0)!]).toEqual([2, 3, 5, 4, 0, 0]);
    expect([...tokens.get(2)!]).toEqual([2, 1, 1, 1, 3, 4]);
    expect([...table.getChild('length')!.toArray()]).toEqual([4, 3, 6]);
    expect(report.maxLength).toBe(6);
    expect(String(table.schema.fields.find((f) => f.name === 'tokens')!.type)).toBe('FixedSizeList[6]<Int32>');
  });

  it('minCount picks the words seen often enough; maxLength caps and keeps <eos>', () => {
    const dir = cleanDir([
      ['a.jpg', 'train', '<sos> dog runs fast <eos>'],
      ['b.jpg', 'train', '<sos> dog runs <eos>'],
      ['c.jpg', 'train', '<sos> dog <eos>'],
    ]);
    const config = tokenizeSchema.parse({ minCount: 2, maxLength: 4 });
    const report = runTokenize({ cleanDir: join(dir, 'text-clean'), outDir: join(dir, 'tokenize'), config });
    // counts: <sos> 3, dog 3, <eos> 3, runs 2, fast 1 → 4 words with count >= 2 → num_words = 6 (ids 1..5)
    expect(report.numWords).toBe(6);
    const tokens = readArrowFile(join(dir, 'tokenize', 'tokens.arrow')).getChild('tokens')!;
    expect([...tokens.get(0)!]).toEqual([2, 3, 5, 4]); // "fast" (id 6) → <unk> would be [2,3,5,1,4]; cut to 4 keeping <eos>
    expect(report.truncated).toBe(1);
  });

  it('refuses to fit without a training split', () => {
    const dir = cleanDir([['a.jpg', 'test', '<sos> dog <eos>']]);
    expect(() => runTokenize({ cleanDir: join(dir, 'text-clean'), outDir: join(dir, 'tokenize'), config: tokenizeSchema.parse({}) })).toThrow(/no captions in the train split/);
  });
});
