import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ingestSchema, tokenizeSchema } from '@captioner/core';
import { sharedFlickr8kDir } from '@captioner/core/node';
import { runIngest } from '@captioner/ingest';
import { runTextClean } from '@captioner/text-clean';
import { runTokenize } from '@captioner/tokenize';

const dataset = sharedFlickr8kDir();
if (!dataset) console.warn('skipping the Flickr8k text-pipeline test: no ../shared/flickr8k or FLICKR8K_DIR here');

describe.skipIf(!dataset)('text stages on the full Flickr8k (../shared/flickr8k)', () => {
  it('ingests 40455 captions with the official 6000/1000/1000 split (91 none) and a 5000-word vocabulary', () => {
    const out = mkdtempSync(join(tmpdir(), 'f8k-'));
    const t0 = Date.now();
    const report = runIngest({ datasetDir: dataset!, config: ingestSchema.parse({}), outDir: join(out, 'ingest'), root: out });
    runTextClean({ ingestDir: join(out, 'ingest'), outDir: join(out, 'text-clean') });
    const tok = runTokenize({ cleanDir: join(out, 'text-clean'), outDir: join(out, 'tokenize'), config: tokenizeSchema.parse({}) });
    const seconds = (Date.now() - t0) / 1000;
    console.log(`ingest + text-clean + tokenize of Flickr8k in-process: ${seconds.toFixed(2)} s`);
    expect(report.captions).toBe(40455);
    expect(report.images).toBe(8091);
    expect(report.splitSource).toBe('official');
    expect(Object.fromEntries(Object.entries(report.splits).map(([k, v]) => [k, v.images]))).toEqual({ train: 6000, val: 1000, test: 1000, none: 91 });
    expect(report.splits.train.captions).toBe(30000);
    expect(tok.numWords).toBe(5000);
    expect(tok.fitCaptions).toBe(30000);
    const vocab = JSON.parse(readFileSync(join(out, 'tokenize', 'vocab.json'), 'utf8'));
    expect(vocab.wordIndex['<unk>']).toBe(1);
    expect(vocab.wordIndex['<sos>']).toBeLessThan(10);
    expect(seconds).toBeLessThan(15);
  });
});
