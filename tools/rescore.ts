/**
 * Re-scores a predictions.jsonl written by the evaluate stage (one JSON object per image with
 * `references` and one caption field per decoding, e.g. `greedy` and `beam`) with @captioner/metrics,
 * the pycocoevalcap-parity scorer: coco-style tokenization of references and captions, corpus
 * BLEU-1..4, CIDEr-D (document frequencies over the file's references), ROUGE-L; x100.
 *
 *   npx tsx --conditions=source tools/rescore.ts docs/results/flickr8k/predictions.jsonl [--fields greedy,beam]
 *
 * Anyone can check the committed numbers this way, or feed the same file to pycocoevalcap.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { cocoTokenize, scoreCaptions, METRIC_NAMES } from '@captioner/metrics';

const { values, positionals } = parseArgs({ allowPositionals: true, options: { fields: { type: 'string', default: 'greedy,beam' } } });
if (positionals.length !== 1) {
  process.stderr.write('usage: tools/rescore.ts <predictions.jsonl> [--fields greedy,beam]\n');
  process.exit(2);
}
const file = positionals[0];
const fields = values.fields!.split(',').filter(Boolean);
const rows = readFileSync(file, 'utf8')
  .split('\n')
  .map((line, i) => ({ line, n: i + 1 }))
  .filter(({ line }) => line.trim() !== '')
  .map(({ line, n }) => {
    let row: Record<string, unknown>;
    try {
      row = JSON.parse(line) as Record<string, unknown>;
    } catch (err) {
      throw new Error(`${file}:${n}: not JSON (${(err as Error).message})`, { cause: err });
    }
    if (!Array.isArray(row.references) || row.references.some((r) => typeof r !== 'string')) throw new Error(`${file}:${n}: field "references" must be an array of strings`);
    for (const f of fields) if (typeof row[f] !== 'string') throw new Error(`${file}:${n}: field "${f}" must be a string`);
    return row as Record<string, string> & { references: string[] };
  });
const references = rows.map((r) => r.references.map(cocoTokenize));
console.log(`${file}: ${rows.length} images, x100`);
console.log(['decoding'.padEnd(10), ...METRIC_NAMES.map((m) => m.padStart(8))].join(''));
for (const f of fields) {
  const { corpus } = scoreCaptions(rows.map((r, i) => ({ candidate: cocoTokenize(r[f]), references: references[i] })));
  console.log([f.padEnd(10), ...METRIC_NAMES.map((m) => (corpus[m] * 100).toFixed(2).padStart(8))].join(''));
}
