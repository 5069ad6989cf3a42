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
import { parseArgs } from 'node:util';
import { CaptionerError } from '@captioner/core';
import { readJsonLines } from '@captioner/core/node';
import { predictionLineSchema } from '@captioner/evaluate/contract';
import { cocoTokenize, scoreCaptions, METRIC_NAMES } from '@captioner/metrics';

const { values, positionals } = parseArgs({ allowPositionals: true, options: { fields: { type: 'string', default: 'greedy,beam' } } });
if (positionals.length !== 1) {
  process.stderr.write('usage: tools/rescore.ts <predictions.jsonl> [--fields greedy,beam]\n');
  process.exit(2);
}
const file = positionals[0];
const CAPTION_FIELDS = ['greedy', 'beam', 'nearestNeighbour'] as const;
const fields = values.fields!.split(',').filter(Boolean) as (typeof CAPTION_FIELDS)[number][];
const unknown = fields.filter((f) => !(CAPTION_FIELDS as readonly string[]).includes(f));
if (unknown.length > 0) {
  process.stderr.write(`--fields: unknown caption field(s) ${unknown.join(', ')}; predictions.jsonl has ${CAPTION_FIELDS.join(', ')}\n`);
  process.exit(2);
}
// evaluate's own contract for the file: names the line and field of anything malformed.
const rows = readJsonLines(file, predictionLineSchema);
rows.forEach((row, i) => {
  for (const f of fields) if (typeof row[f] !== 'string') throw new CaptionerError(`${file}: line ${i + 1} has no "${f}" caption`);
});
const references = rows.map((r) => r.references.map(cocoTokenize));
console.log(`${file}: ${rows.length} images, x100`);
console.log(['decoding'.padEnd(10), ...METRIC_NAMES.map((m) => m.padStart(8))].join(''));
for (const f of fields) {
  const { corpus } = scoreCaptions(rows.map((r, i) => ({ candidate: cocoTokenize(r[f]!), references: references[i] })));
  console.log([f.padEnd(10), ...METRIC_NAMES.map((m) => (corpus[m] * 100).toFixed(2).padStart(8))].join(''));
}
