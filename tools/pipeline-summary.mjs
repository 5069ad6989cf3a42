#!/usr/bin/env node
// Prints one line per stage that has run: its report/metrics, so `nx run pipelines:full` ends with a summary.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.env.CAPTIONER_STAGES_DIR ?? 'data/stages';
const read = (p) => (existsSync(join(dir, p)) ? JSON.parse(readFileSync(join(dir, p), 'utf8')) : undefined);
const ingest = read('ingest/report.json');
if (ingest) {
  const s = ingest.splits;
  console.log(`ingest     ${ingest.captions} captions, ${ingest.images} images (train ${s.train.images} / val ${s.val.images} / test ${s.test.images} / none ${s.none.images})`);
}
const tok = read('tokenize/report.json');
if (tok) console.log(`tokenize   num_words ${tok.numWords}, max_length ${tok.maxLength}, <unk> rate ${(tok.unkRate * 100).toFixed(2)}%`);
const feat = read('featurize/manifest.json');
if (feat)
  console.log(
    `featurize  ${feat.layer} ${feat.grid?.join('x')}x${feat.dim} ${feat.dtype}, ${feat.shards?.reduce((n, s) => n + s.rows, 0)} images, ${feat.failed?.length ?? 0} failed`,
  );
const metrics = read('evaluate/metrics.json');
if (metrics) {
  for (const [method, scores] of Object.entries(metrics.x100 ?? {})) {
    const line = Object.entries(scores)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ');
    console.log(`evaluate   ${metrics.split} (${metrics.images} images), ${method}, 0-100: ${line}`);
  }
}
const train = read('train/model/config.json');
if (train?.training?.best) console.log(`train      best epoch ${train.training.best.epoch} of ${train.training.epoch}, val loss ${train.training.best.valLoss.toFixed(4)}`);
if (existsSync(join(dir, 'viz/report/index.html'))) console.log(`viz        ${join(dir, 'viz/report/index.html')}`);
