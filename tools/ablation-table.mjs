#!/usr/bin/env node
// Prints the ablation table (markdown) from finished runs: for each config, the selected epoch's
// greedy validation scores (what chose it: train's metrics.jsonl) and the test scores of evaluate's
// metrics.json, then the baseline rows (constant captions once, nearest neighbour per feature set).
// Usage: node tools/ablation-table.mjs pipelines/configs/ablations/{mobilenet,mixed10}.json …
import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';

const fromRoot = (p) => (isAbsolute(p) ? p : join(process.cwd(), p));
const f2 = (x) => (x == null ? '–' : x.toFixed(2));
const dirOf = (config, stage) => fromRoot(config.stageDirs?.[stage] ?? join(config.stagesDir ?? 'data/stages', stage));

const rows = [];
let constants = null;
/** Nearest-neighbour retrieval depends on the features: one row per feature folder. */
const neighbours = new Map();
for (const path of process.argv.slice(2)) {
  const config = JSON.parse(readFileSync(path, 'utf8'));
  const name = path.replace(/^.*\//, '').replace(/\.json$/, '');
  const metricsPath = join(dirOf(config, 'train'), 'metrics.jsonl');
  const evalPath = join(dirOf(config, 'evaluate'), 'metrics.json');
  if (!existsSync(metricsPath) || !existsSync(evalPath)) {
    rows.push(`| ${name} | not run | | | | | | | | |`);
    continue;
  }
  const history = readFileSync(metricsPath, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));
  const by = config.train?.selectBy ?? 'valLoss';
  const score = (m) => (by === 'valCIDEr' ? (m.valCider ?? -Infinity) : -(m.valLoss ?? m.trainLoss));
  const best = history.reduce((a, m) => (score(m) > score(a) ? m : a));
  const evaluation = JSON.parse(readFileSync(evalPath, 'utf8'));
  const g = evaluation.x100.greedy;
  const b = evaluation.x100.beam;
  const flagged = (evaluation.warnings ?? []).length ? ' ⚠' : '';
  rows.push(
    `| ${name}${flagged} | ${best.epoch}/${history.length} | ${f2(best.valCider != null ? best.valCider * 100 : null)} | ${f2(best.valLoss)} | ` +
      `${f2(g['BLEU-4'])} / ${f2(g['CIDEr-D'])} | ${f2(b['BLEU-1'])} | ${f2(b['BLEU-4'])} | ${f2(b['CIDEr-D'])} | ${f2(b['ROUGE-L'])} | ${evaluation.methods.beam.stats.meanWords.toFixed(1)} |`,
  );
  const base = evaluation.x100Baselines ?? {};
  constants ??= Object.fromEntries(Object.entries(base).filter(([k]) => k !== 'nearestNeighbour'));
  const features = (config.stageDirs?.featurize ?? name).replace(/^.*\//, '');
  if (base.nearestNeighbour && !neighbours.has(features)) neighbours.set(features, base.nearestNeighbour);
}
console.log('| run | best epoch / run | val CIDEr-D (greedy) | val loss | test greedy BLEU-4 / CIDEr-D | test beam BLEU-1 | BLEU-4 | CIDEr-D | ROUGE-L | words |');
console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
for (const r of rows) console.log(r);
const baselineRows = [...Object.entries(constants ?? {}), ...[...neighbours].map(([f, s]) => [`nearest neighbour (${f})`, s])];
for (const [name, s] of baselineRows) {
  console.log(`| baseline: ${name} | | | | | ${f2(s['BLEU-1'])} | ${f2(s['BLEU-4'])} | ${f2(s['CIDEr-D'])} | ${f2(s['ROUGE-L'])} | |`);
}
