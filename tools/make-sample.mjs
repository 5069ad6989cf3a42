#!/usr/bin/env node
// Builds data/sample/ from a full Flickr8k folder: a small, seeded, attributed subset in the Kaggle
// layout (Images/ + captions.txt) with official split lists filtered to it.
// Usage: node tools/make-sample.mjs [FLICKR8K_DIR] [--train 110 --val 20 --test 20]
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { train: { type: 'string', default: '110' }, val: { type: 'string', default: '20' }, test: { type: 'string', default: '20' } },
});
const src = positionals[0] ?? '../shared/flickr8k';
const out = 'data/sample';

// mulberry32, the same generator as @captioner/core's seededRandom
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const pick = (list, n, random) => {
  const a = [...list].sort();
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a.slice(0, n).sort();
};
const lines = (f) => readFileSync(join(src, f), 'utf8').split(/\r?\n/).map((l) => l.trim()).filter(Boolean);

const random = rng(31);
const splits = {
  trainImages: pick(lines('Flickr_8k.trainImages.txt'), Number(values.train), random),
  devImages: pick(lines('Flickr_8k.devImages.txt'), Number(values.val), random),
  testImages: pick(lines('Flickr_8k.testImages.txt'), Number(values.test), random),
};
const chosen = new Set(Object.values(splits).flat());
rmSync(join(out, 'Images'), { recursive: true, force: true });
mkdirSync(join(out, 'Images'), { recursive: true });
for (const img of chosen) copyFileSync(join(src, 'Images', img), join(out, 'Images', img));
const captions = readFileSync(join(src, 'captions.txt'), 'utf8').split(/\r?\n/);
const kept = [captions[0], ...captions.slice(1).filter((l) => chosen.has(l.split(',')[0]))];
writeFileSync(join(out, 'captions.txt'), kept.join('\n') + '\n');
for (const [name, list] of Object.entries(splits)) writeFileSync(join(out, `Flickr_8k.${name}.txt`), list.join('\n') + '\n');
console.log(`data/sample: ${chosen.size} images, ${kept.length - 1} captions`);
