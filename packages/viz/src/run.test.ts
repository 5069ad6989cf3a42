import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import yargs from 'yargs';
import { afterEach, describe, expect, it } from 'vitest';
import { CaptionerError, vizSchema, type VizConfig } from '@captioner/core';
import { stageCommand } from '@captioner/core/node';
import { runViz, stage } from './index.js';
import { makeFixture, type Fixture } from '../test/fixtures.js';

const options = (f: Fixture, config: Partial<VizConfig> = {}) => ({
  root: f.root,
  ingestDir: f.dir('ingest'),
  featurizeDir: f.dir('featurize'),
  trainDir: f.dir('train'),
  evaluateDir: f.dir('evaluate'),
  outDir: f.dir('viz'),
  config: vizSchema.parse(config),
});

describe('runViz', () => {
  it('writes every figure and a self-contained report', async () => {
    const f = await makeFixture({ images: 5 });
    const result = await runViz(options(f, { examples: 2 }));
    const files = result.figures.map((x) => x.file);
    expect(files).toEqual([
      'dataset-sample.png',
      'training-curves.png',
      'example-1-side-by-side.png',
      'example-1-attention.png',
      'example-2-side-by-side.png',
      'example-2-attention.png',
      'report/index.html',
    ]);
    expect(result.skipped).toEqual([]);
    for (const file of files.filter((x) => x.endsWith('.png'))) {
      const meta = await sharp(join(f.dir('viz'), file)).metadata();
      expect(meta.format, file).toBe('png');
      expect(meta.width! * meta.height!, file).toBeGreaterThan(100_000);
    }
    const html = readFileSync(result.report, 'utf8');
    expect(html.match(/<article class="card"/g)).toHaveLength(5);
    expect(html).toContain('<table class="metrics">');
    expect(html).toMatch(/<th scope="row">beam \(k=3\)<\/th><td class="best"><strong>58\.00<\/strong>/);
    expect(html).toContain('<svg');
    expect(html).toContain('Loss per epoch');
    // Nothing is fetched from anywhere: no remote src/href/url(), and a CSP that forbids it.
    expect(html).not.toMatch(/(src|href)="(https?:)?\/\//);
    expect(html).not.toMatch(/url\(\s*['"]?https?:/);
    expect(html).toContain(`default-src 'none'`);
    const summary = JSON.parse(readFileSync(join(f.dir('viz'), 'report.json'), 'utf8'));
    expect(summary.examples).toHaveLength(4);
    // The example images lead the report's cards.
    const exampleNames = result.figures.filter((x) => x.file.endsWith('side-by-side.png')).map((x) => x.description.split(':')[0]);
    expect(summary.cards.slice(0, 2)).toEqual(exampleNames);
  });

  it('is deterministic for a seed, and removes example figures a smaller run no longer makes', async () => {
    const f = await makeFixture({ images: 5 });
    await runViz(options(f, { examples: 3 }));
    const first = readFileSync(join(f.dir('viz'), 'report.json'), 'utf8');
    const sample = readFileSync(join(f.dir('viz'), 'dataset-sample.png'));
    await runViz(options(f, { examples: 3 }));
    expect(JSON.parse(readFileSync(join(f.dir('viz'), 'report.json'), 'utf8')).cards).toEqual(JSON.parse(first).cards);
    expect(readFileSync(join(f.dir('viz'), 'dataset-sample.png')).equals(sample)).toBe(true);
    await runViz(options(f, { examples: 1, seed: 7 }));
    const examples = readdirSync(f.dir('viz')).filter((x) => x.startsWith('example-'));
    expect(examples.sort()).toEqual(['example-1-attention.png', 'example-1-side-by-side.png']);
  });

  it('uses the configured example images and method', async () => {
    const f = await makeFixture({ images: 4 });
    const result = await runViz(options(f, { exampleImages: [f.images[3]], method: 'greedy', reportImages: 2 }));
    expect(result.figures[2].description).toMatch(new RegExp(`^${f.images[3]}: .*\\(greedy\\)$`));
    expect(JSON.parse(readFileSync(join(f.dir('viz'), 'report.json'), 'utf8')).cards[0]).toBe(f.images[3]);
    await expect(runViz(options(f, { method: 'sampling' }))).rejects.toThrow(/viz\.method "sampling" is not in .*predictions\.arrow \(has greedy, beam\)/);
    await expect(runViz(options(f, { exampleImages: ['nope.jpg'] }))).rejects.toThrow(/viz\.exampleImages: "nope\.jpg" has no/);
  });

  it('still draws the dataset sample and a report when training and evaluation have not run', async () => {
    const f = await makeFixture({ images: 3, withTrain: false, withEvaluate: false });
    const result = await runViz(options(f));
    expect(result.figures.map((x) => x.file)).toEqual(['dataset-sample.png', 'report/index.html']);
    expect(result.skipped.join('\n')).toMatch(/run `captioner train`[\s\S]*run `captioner evaluate`/);
    const html = readFileSync(result.report, 'utf8');
    expect(html).toContain('run `captioner evaluate`');
    expect(html).not.toContain('<article class="card"');
  });

  it('fails clearly when an image is missing', async () => {
    const f = await makeFixture({ images: 2, withTrain: false, withEvaluate: false });
    const { rmSync } = await import('node:fs');
    rmSync(join(f.root, 'data', 'images', f.images[1]));
    await expect(runViz(options(f))).rejects.toThrow(new RegExp(`image ${f.images[1]} not found in .*data/images`));
    await expect(runViz(options(f))).rejects.toBeInstanceOf(CaptionerError);
  });
});

describe('captioner viz', () => {
  const saved = process.env.CAPTIONER_ROOT;
  afterEach(() => {
    if (saved === undefined) delete process.env.CAPTIONER_ROOT;
    else process.env.CAPTIONER_ROOT = saved;
  });

  it('runs the stage from the command line with dotted config overrides', async () => {
    const f = await makeFixture({ images: 3 });
    process.env.CAPTIONER_ROOT = f.root;
    await yargs(['viz', '--viz.examples', '1', '--viz.colormap', 'magma'])
      .command(stageCommand(stage))
      .fail((msg, err) => {
        throw err ?? new Error(msg);
      })
      .parseAsync();
    expect(existsSync(join(f.dir('viz'), 'report', 'index.html'))).toBe(true);
    expect(readdirSync(f.dir('viz')).filter((x) => x.startsWith('example-'))).toHaveLength(2);
    expect(readFileSync(join(f.dir('viz'), 'report', 'index.html'), 'utf8')).toContain('scaled per word, magma');
  });
});
