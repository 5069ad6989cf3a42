/**
 * A Keras-compatible word tokenizer (tf.keras.preprocessing.text.Tokenizer), reproducing its
 * documented rules so vocabularies match the tutorial's:
 * - text → words: lowercase, every `filters` character becomes a space, split on spaces, drop empties;
 * - ranking: by count, descending; ties keep first-occurrence order (Python's stable sort);
 * - ids: `<unk>` (the oov token) = 1, then the ranking from 2; 0 is reserved (`<pad>`);
 * - encoding: a word whose id ≥ numWords, or an unseen word, becomes the oov id.
 */

import type { VocabJson } from './contract.js';

export type { VocabJson };

/** The tutorial's filters: Keras's default minus `<` and `>` (so `<sos>`/`<eos>` survive) and `'`. */
export const TUTORIAL_FILTERS = '!"#$%&()*+.,-/:;=?@[\\]^_`{|}~ ';

export interface TokenizerOptions {
  numWords: number;
  oovToken?: string;
  filters?: string;
  lower?: boolean;
}

export class KerasTokenizer {
  readonly numWords: number;
  readonly oovToken: string;
  readonly filters: string;
  readonly lower: boolean;
  wordCounts = new Map<string, number>();
  wordIndex = new Map<string, number>();
  private filterSet: Set<string>;

  constructor(opts: TokenizerOptions) {
    this.numWords = opts.numWords;
    this.oovToken = opts.oovToken ?? '<unk>';
    this.filters = opts.filters ?? TUTORIAL_FILTERS;
    this.lower = opts.lower ?? true;
    this.filterSet = new Set(this.filters);
  }

  /** Keras `text_to_word_sequence`. */
  words(text: string): string[] {
    const t = this.lower ? text.toLowerCase() : text;
    let out = '';
    for (const ch of t) out += this.filterSet.has(ch) ? ' ' : ch;
    return out.split(' ').filter(Boolean);
  }

  fit(texts: Iterable<string>): this {
    for (const text of texts) {
      for (const w of this.words(text)) this.wordCounts.set(w, (this.wordCounts.get(w) ?? 0) + 1);
    }
    // Array.prototype.sort is stable: equal counts keep insertion (first-occurrence) order.
    const ranked = [...this.wordCounts.entries()].filter(([w]) => w !== this.oovToken).sort((a, b) => b[1] - a[1]);
    this.wordIndex = new Map([[this.oovToken, 1]]);
    ranked.forEach(([w], i) => this.wordIndex.set(w, i + 2));
    return this;
  }

  /** Keras `texts_to_sequences` for one text. */
  encode(text: string): number[] {
    const oov = this.wordIndex.get(this.oovToken)!;
    return this.words(text).map((w) => {
      const id = this.wordIndex.get(w);
      return id === undefined || id >= this.numWords ? oov : id;
    });
  }

  toJson(maxLength: number, rule: string): VocabJson {
    return {
      numWords: this.numWords,
      vocabSize: this.numWords + 1,
      oovToken: this.oovToken,
      padToken: '<pad>',
      maxLength,
      filters: this.filters,
      wordIndex: Object.fromEntries(this.wordIndex),
      wordCounts: Object.fromEntries(this.wordCounts),
      rule,
    };
  }

  static fromJson(v: VocabJson): KerasTokenizer {
    const t = new KerasTokenizer({ numWords: v.numWords, oovToken: v.oovToken, filters: v.filters });
    t.wordIndex = new Map(Object.entries(v.wordIndex));
    t.wordCounts = new Map(Object.entries(v.wordCounts));
    return t;
  }
}

/** id → word for decoding: ids ≥ numWords never occur in encoded data, 0 is `<pad>`. */
export function indexToWord(vocab: Pick<VocabJson, 'wordIndex' | 'numWords'>): string[] {
  const words = new Array<string>(vocab.numWords).fill('<unk>');
  words[0] = '<pad>';
  for (const [w, id] of Object.entries(vocab.wordIndex)) if (id < vocab.numWords) words[id] = w;
  return words;
}

/**
 * Keras `pad_sequences(padding='post')` to `maxLength`. Longer sequences are cut at the end but keep
 * their final token (`<eos>`), unlike Keras's default truncating='pre', which would drop `<sos>`.
 */
export function padPost(seq: number[], maxLength: number, out: Int32Array, offset: number): number {
  const n = Math.min(seq.length, maxLength);
  for (let i = 0; i < n; i++) out[offset + i] = seq[i];
  if (seq.length > maxLength) out[offset + maxLength - 1] = seq[seq.length - 1];
  return n;
}
