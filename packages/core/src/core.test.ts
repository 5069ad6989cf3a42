import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig } from './config.js';
import { loadConfig } from './config-file.js';
import { stageContext } from './cli.js';
import { workspaceRoot } from './paths.js';
import { withAtomicPath, writeFileAtomic } from './atomic.js';
import { seededRandom, shuffleInPlace } from './random.js';

describe('config', () => {
  it('fills every default from {}', () => {
    const c = parseConfig({});
    expect(c.tokenize.numWords).toBe(5000);
    expect(c.model).toMatchObject({ embeddingDim: 256, units: 512, attentionUnits: 512 });
    // The defaults are the recipe chosen on val (docs/RESULTS.md); text-clean keeps the seed's rule.
    expect(c.train).toMatchObject({ batchSize: 64, learningRate: 4e-4, seed: 31, selectBy: 'valCIDEr', dropout: 0.5, attentionPenalty: 1, patience: 4 });
    expect(c.train.lrSchedule).toMatchObject({ kind: 'plateau', factor: 0.5, every: 2 });
    expect(c.evaluate).toMatchObject({ beam: 5, lengthPenalty: 3, noRepeatNgram: 2 });
    expect(c.featurize).toMatchObject({ backbone: 'mobilenet_v2', layer: 'Conv_1', scaling: '-1,1' });
    expect(c.textClean.minWordLength).toBe(2);
  });

  it('featurize.backbone follows the layer when only the layer is given', () => {
    expect(parseConfig({ featurize: { layer: 'mixed10', scaling: '0,1' } }).featurize).toMatchObject({ backbone: 'inception_v3', layer: 'mixed10', scaling: '0,1' });
    expect(parseConfig({ featurize: { backbone: 'inception_v3' } }).featurize).toMatchObject({ backbone: 'inception_v3', layer: 'mixed10', scaling: '0,1' });
    expect(() => parseConfig({ featurize: { backbone: 'mobilenet_v2', layer: 'mixed10' } }, 'x.json')).toThrow(/featurize\.layer[\s\S]*mixed10" is a layer of inception_v3/);
  });

  it('rejects unknown keys and bad values, naming file and field', () => {
    expect(() => parseConfig({ train: { epoch: 3 } }, 'x.json')).toThrow(/x\.json: invalid configuration[\s\S]*train: Unrecognized key.*epoch/);
    expect(() => parseConfig({ tokenize: { numWords: -1 } }, 'x.json')).toThrow(/tokenize\.numWords/);
    expect(() => parseConfig({ featurize: { layer: 'mixed7' } }, 'x.json')).toThrow(/featurize\.layer/);
    expect(() => parseConfig({ ingest: { ratios: { train: 0.5, val: 0.1, test: 0.1 } } })).toThrow(/sum to 1/);
    expect(() => parseConfig({ nope: 1 })).toThrow(/Unrecognized key.*nope/);
  });

  it('stageDirs points single stages elsewhere; the others stay under stagesDir', () => {
    const dir = mkdtempSync(join(tmpdir(), 'stage-dirs-'));
    const path = join(dir, 'c.json');
    writeFileSync(path, JSON.stringify({ stagesDir: '/runs/a', stageDirs: { featurize: '/features/mobilenet', tokenize: 'rel/tok' } }));
    const ctx = stageContext({ config: path });
    expect(ctx.dir('featurize')).toBe('/features/mobilenet');
    expect(ctx.dir('tokenize')).toBe(join(workspaceRoot(), 'rel/tok'));
    expect(ctx.dir('train')).toBe('/runs/a/train');
    expect(() => parseConfig({ stageDirs: { featurise: 'x' } }, 'x.json')).toThrow(/stageDirs/);
  });

  it('expands ${VAR:-default} from the environment', () => {
    const raw = { dataset: { dir: '${FLICKR8K_DIR:-data/flickr8k}' } };
    expect(parseConfig(raw, 'c', {}).dataset.dir).toBe('data/flickr8k');
    expect(parseConfig(raw, 'c', { FLICKR8K_DIR: '/d' }).dataset.dir).toBe('/d');
  });

  it('applies dotted-flag overrides on top of the file, and reports bad JSON with the path', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cfg-'));
    writeFileSync(join(dir, 'a.json'), JSON.stringify({ train: { epochs: 5, batchSize: 32 } }));
    expect(loadConfig(join(dir, 'a.json'), { train: { epochs: 2 } }).train).toMatchObject({ epochs: 2, batchSize: 32 });
    writeFileSync(join(dir, 'b.json'), '{ "train": ');
    expect(() => loadConfig(join(dir, 'b.json'))).toThrow(/b\.json: not valid JSON/);
    expect(() => loadConfig(join(dir, 'missing.json'))).toThrow(/config file not found/);
  });
});

describe('atomic writes', () => {
  it('leaves no temp file and replaces the target', () => {
    const dir = mkdtempSync(join(tmpdir(), 'atomic-'));
    writeFileAtomic(join(dir, 'f.txt'), 'one');
    writeFileAtomic(join(dir, 'f.txt'), 'two');
    expect(readdirSync(dir)).toEqual(['f.txt']);
    expect(readFileSync(join(dir, 'f.txt'), 'utf8')).toBe('two');
  });

  it('a failing writer leaves the previous output untouched', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'atomic-'));
    writeFileAtomic(join(dir, 'out', 'a.txt'), 'old');
    await expect(
      withAtomicPath(join(dir, 'out'), (tmp) => {
        writeFileAtomic(join(tmp, 'a.txt'), 'half');
        throw new Error('killed');
      }),
    ).rejects.toThrow('killed');
    expect(readFileSync(join(dir, 'out', 'a.txt'), 'utf8')).toBe('old');
    expect(readdirSync(dir)).toEqual(['out']);
  });
});

describe('seededRandom', () => {
  it('is reproducible and seed-dependent', () => {
    const a = shuffleInPlace([1, 2, 3, 4, 5, 6, 7, 8], seededRandom(31));
    expect(shuffleInPlace([1, 2, 3, 4, 5, 6, 7, 8], seededRandom(31))).toEqual(a);
    expect(shuffleInPlace([1, 2, 3, 4, 5, 6, 7, 8], seededRandom(32))).not.toEqual(a);
  });
});
