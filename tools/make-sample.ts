// Builds data/sample/ from a full Flickr8k folder: a small, seeded, attributed subset in the Kaggle
// layout (Images/ + captions.txt) with official split lists filtered to it.
// Usage: npx tsx --conditions=source tools/make-sample.ts [FLICKR8K_DIR] [--train 110 --val 20 --test 20]
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { seededRandom, shuffleInPlace } from '@captioner/core';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { train: { type: 'string', default: '110' }, val: { type: 'string', default: '20' }, test: { type: 'string', default: '20' } },
});
const src = positionals[0] ?? '../shared/flickr8k';
const out = 'data/sample';

const pick = (list: string[], n: number, random: () => number) =>
  shuffleInPlace([...list].sort(), random)
    .slice(0, n)
    .sort();
const lines = (f: string) =>
  readFileSync(join(src, f), 'utf8')
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter(Boolean);

const random = seededRandom(31);
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
