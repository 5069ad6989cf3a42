#!/usr/bin/env node
// Nx runtime input: prints a fingerprint of what one stage depends on outside its source files:
// its own sections of every pipeline configuration (so editing `train.epochs` never re-runs
// featurize), and, for stages that read the dataset, the dataset folders those configurations name.
// Usage (from nx project.json): { "runtime": "node tools/nx-input.mjs <stage>" }
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';

const SECTIONS = {
  ingest: ['stagesDir', 'dataset', 'ingest'],
  'text-clean': ['stagesDir', 'textClean'],
  tokenize: ['stagesDir', 'tokenize'],
  featurize: ['stagesDir', 'featurize'],
  train: ['stagesDir', 'backend', 'model', 'train'],
  evaluate: ['stagesDir', 'backend', 'evaluate'],
  viz: ['stagesDir', 'viz'],
};
const READS_DATASET = new Set(['ingest', 'featurize']);

const stage = process.argv[2];
if (!SECTIONS[stage]) {
  console.error(`nx-input: unknown stage "${stage}"`);
  process.exit(2);
}
const expand = (s) => s.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g, (_, n, d) => process.env[n] || d || '');
const hash = createHash('sha256');
const configDir = 'pipelines/configs';
for (const file of readdirSync(configDir).filter((f) => f.endsWith('.json')).sort()) {
  const config = JSON.parse(readFileSync(join(configDir, file), 'utf8'));
  hash.update(file + JSON.stringify(SECTIONS[stage].map((k) => [k, config[k] ?? null])));
  if (READS_DATASET.has(stage)) {
    const dir = expand(config.dataset?.dir ?? 'data/sample');
    const abs = isAbsolute(dir) ? dir : join(process.cwd(), dir);
    // Files inside the workspace are hashed by content through Nx's own file inputs; an external
    // dataset is fingerprinted here: text files by content, images by name and size (hashing 8091
    // images on every `nx run` would cost seconds).
    if (!abs.startsWith(process.cwd() + '/') && existsSync(abs)) {
      for (const entry of readdirSync(abs, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
        const p = join(abs, entry.name);
        if (entry.isFile()) hash.update(entry.name + readFileSync(p));
        else if (entry.isDirectory()) {
          for (const img of readdirSync(p).sort()) hash.update(`${entry.name}/${img}:${statSync(join(p, img)).size}`);
        }
      }
    } else hash.update(`dataset:${dir}:${existsSync(abs)}`);
  }
}
process.stdout.write(hash.digest('hex') + '\n');
