/** One image's caption pair for corpus metrics: the candidate and its references, already tokenized. */
export interface ScoredCaption {
  candidate: readonly string[];
  references: readonly (readonly string[])[];
}

/**
 * Counts of every n-gram of order 1..maxN (pycocoevalcap `precook`). Keys join the words with a
 * space, which cannot occur inside a token, so distinct n-grams never collide.
 */
export function ngramCounts(words: readonly string[], maxN: number): Map<string, number> {
  const counts = new Map<string, number>();
  for (let n = 1; n <= maxN; n++) {
    for (let i = 0; i + n <= words.length; i++) {
      const key = words.slice(i, i + n).join(' ');
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
  }
  return counts;
}

/** Order of an n-gram key made by {@link ngramCounts}. */
export function ngramOrder(key: string): number {
  let n = 1;
  for (let i = 0; i < key.length; i++) if (key.charCodeAt(i) === 32) n++;
  return n;
}

export function assertScorable(items: readonly ScoredCaption[], metric: string): void {
  items.forEach((item, i) => {
    if (item.references.length === 0) throw new Error(`${metric}: item ${i} has no references`);
  });
}
