#!/usr/bin/env node
// Nx runtime input: prints a fingerprint of what one stage depends on outside its source files:
// its own sections of every pipeline configuration (so editing `train.epochs` never re-runs
// featurize), and, for stages that read the dataset, the dataset folders those configurations name.
// Usage (from nx project.json): { "runtime": "node tools/nx-input.mjs <stage>" }
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';

// The stage → config sections map is core's (packages/core/src/stage-sections.json), the same
// file the config schema takes its stage names from; read as JSON because this runs on plain Node.
const STAGES = JSON.parse(readFileSync(new URL('../packages/core/src/stage-sections.json', import.meta.url), 'utf8'));

const stage = process.argv[2];
if (!Object.hasOwn(STAGES, stage)) {
  console.error(`nx-input: unknown stage "${stage}" (known: ${Object.keys(STAGES).join(', ')})`);
  process.exit(2);
}
const { sections, readsDataset } = STAGES[stage];
const expand = (s) => s.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g, (_, n, d) => process.env[n] || d || '');
const hash = createHash('sha256');
const configDir = 'pipelines/configs';
for (const file of readdirSync(configDir)
  .filter((f) => f.endsWith('.json'))
  .sort()) {
  const config = JSON.parse(readFileSync(join(configDir, file), 'utf8'));
  hash.update(file + JSON.stringify(sections.map((k) => [k, config[k] ?? null])));
  if (readsDataset) {
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
