/**
 * Caption tokenization as the COCO caption evaluation does it (pycocoevalcap `PTBTokenizer`):
 * Stanford PTBTokenizer with `-lowerCase`, then the tokens in {@link COCO_PUNCTUATIONS} dropped.
 *
 * The Java tokenizer is not available here, so this reproduces the PTB rules that matter for
 * caption text: lowercasing; punctuation split from words; clitics split the PTB way
 * (`dog's` → `dog 's`, `don't` → `do n't`); hyphenated words, decimals (`3.5`), times (`10:30`),
 * thousands (`1,000`) and dotted abbreviations (`u.s.`) kept whole; quotes and brackets removed
 * (PTB turns them into `` `` ''/-LRB- tokens, which the COCO list then drops).
 */

/** Tokens pycocoevalcap removes after PTB tokenization (ptbtokenizer.py `PUNCTUATIONS`). */
export const COCO_PUNCTUATIONS: ReadonlySet<string> = new Set(["''", "'", '``', '`', '-LRB-', '-RRB-', '-LCB-', '-RCB-', '.', '?', '!', ',', ':', '-', '--', '...', ';']);

/** Common abbreviations PTB keeps with their final period (the period is not a sentence end). */
const ABBREVIATIONS = new Set(['mr', 'mrs', 'ms', 'dr', 'st', 'jr', 'sr', 'vs', 'etc', 'mt', 'ave', 'no']);

/** PTB's names for brackets and quotes; all of them are in the COCO removal list. */
const PTB_SYMBOLS: Record<string, string> = {
  '(': '-LRB-',
  ')': '-RRB-',
  '[': '-LSB-',
  ']': '-RSB-',
  '{': '-LCB-',
  '}': '-RCB-',
  '"': "''",
  '`': '`',
  "'": "'",
};

const CLITIC = /^(.*[a-z0-9])('s|'re|'ve|'ll|'d|'m|n't)$/;

function splitToken(raw: string, out: string[]): void {
  let token = raw;
  // Leading quotes/brackets: PTB emits them as separate (later removed) tokens.
  while (token.length > 0 && /^['"`([{]/.test(token) && !/^'(s|re|ve|ll|d|m)$/.test(token)) token = token.slice(1);
  const trailing: string[] = [];
  for (;;) {
    if (token.length === 0) break;
    if (token.endsWith('...')) {
      trailing.unshift('...');
      token = token.slice(0, -3);
      continue;
    }
    const last = token[token.length - 1];
    if (/[,;:!?"')\]}`]/.test(last)) {
      // A closing single quote after a word (`tikes'`) is a quote, not part of the word.
      trailing.unshift(PTB_SYMBOLS[last] ?? last);
      token = token.slice(0, -1);
      continue;
    }
    if (last === '.') {
      const stem = token.slice(0, -1);
      // Keep the period of `u.s.`-style and known abbreviations; split a sentence-final one.
      if (stem.includes('.') || ABBREVIATIONS.has(stem)) break;
      trailing.unshift('.');
      token = stem;
      continue;
    }
    break;
  }
  if (token.length > 0) {
    // Punctuation inside a token splits it, except between digits (10:30, 1,000) .
    const pieces = token.split(/(?<!\d)[,;:!?"()[\]{}]|[,;:!?"()[\]{}](?!\d)/).filter((p) => p.length > 0);
    for (const piece of pieces) {
      if (piece !== token) {
        splitToken(piece, out);
        continue;
      }
      const clitic = CLITIC.exec(piece);
      if (clitic) out.push(clitic[1], clitic[2]);
      else out.push(piece);
    }
  }
  out.push(...trailing);
}

/** Lowercased PTB-style tokens of one caption with COCO's punctuation tokens removed. */
export function cocoTokenize(text: string): string[] {
  const out: string[] = [];
  for (const raw of text
    .toLowerCase()
    .replace(/[\u2018\u2019]/g, "'")
    .replace(/[\u201c\u201d]/g, '"')
    .split(/\s+/)) {
    if (raw.length > 0) splitToken(raw, out);
  }
  // -LSB-/-RSB- are not in COCO's list (the Java tokenizer keeps square brackets as text there),
  // but a bracket is never a caption word, so they go too; so do runs like `----` or `....`.
  return out.filter((t) => !COCO_PUNCTUATIONS.has(t) && t !== '-LSB-' && t !== '-RSB-' && !/^[-'"`]+$/.test(t) && !/^\.+$/.test(t));
}
