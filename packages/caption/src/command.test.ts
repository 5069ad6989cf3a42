import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import yargs from 'yargs';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { captionCommand, chooseModel } from './command.js';
import { PRETRAINED_MODEL_DIR } from './node.js';

const root = mkdtempSync(join(tmpdir(), 'caption-command-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
afterEach(() => {
  process.exitCode = undefined;
  vi.restoreAllMocks();
});
const PHOTO = new URL('../../../docs/figures/demo-images/chelsea-cat.jpg', import.meta.url).pathname;

describe('which model captions', () => {
  const pipelineModel = join(root, 'stages/train/model');
  it('is --model, else the pipeline model when it exists, else the shipped one; --pretrained forces the shipped one', () => {
    expect(chooseModel({ pipelineModel })).toEqual({ dir: PRETRAINED_MODEL_DIR, source: 'pretrained' });
    mkdirSync(pipelineModel, { recursive: true });
    expect(chooseModel({ pipelineModel })).toEqual({ dir: PRETRAINED_MODEL_DIR, source: 'pretrained' }); // an empty folder is no model
    writeFileSync(join(pipelineModel, 'model.json'), '{}');
    expect(chooseModel({ pipelineModel })).toEqual({ dir: pipelineModel, source: 'pipeline' });
    expect(chooseModel({ pipelineModel, pretrained: true })).toEqual({ dir: PRETRAINED_MODEL_DIR, source: 'pretrained' });
    expect(chooseModel({ pipelineModel, model: 'elsewhere' }).source).toBe('flag');
    expect(() => chooseModel({ pipelineModel, model: 'x', pretrained: true })).toThrow(/exclude each other/);
  });
});

describe('captioner caption with no trained model', () => {
  it('captions with the shipped model and says so', async () => {
    let stdout = '';
    let stderr = '';
    vi.spyOn(process.stdout, 'write').mockImplementation((c: string | Uint8Array) => ((stdout += String(c)), true));
    vi.spyOn(process.stderr, 'write').mockImplementation((c: string | Uint8Array) => ((stderr += String(c)), true));
    await yargs(['caption', PHOTO, '--stagesDir', join(root, 'empty-stages'), '--beam', '1', '--json'])
      .command(captionCommand)
      .exitProcess(false)
      .parseAsync();
    vi.restoreAllMocks();
    expect(process.exitCode).toBeUndefined();
    expect(stderr).toContain('the shipped pretrained model');
    const line = JSON.parse(stdout.trim());
    expect(line.image).toBe(PHOTO);
    expect(line.method).toBe('greedy');
    expect(line.words.length).toBeGreaterThan(0);
    expect(line.caption).toBe(line.words.join(' '));
    expect(line.grid).toEqual([7, 7]);
    expect(line.attention).toHaveLength(line.words.length);
  });
});

describe('captioner caption flags', () => {
  it('reads --block-ngram and --length-penalty as numbers (a --no-… flag would be a negated boolean in yargs)', async () => {
    const argv = await yargs(['caption', 'x.jpg', '--block-ngram', '3', '--length-penalty', '0.5'])
      .command({ ...captionCommand, handler: () => {} })
      .exitProcess(false)
      .parseAsync();
    expect(argv['block-ngram']).toBe(3);
    expect(argv['length-penalty']).toBe(0.5);
    expect(argv.images).toEqual(['x.jpg']);
  });
});
