import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import yargs from 'yargs';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { stageCommand } from '@captioner/core/node';
import { captionCommand } from '@captioner/caption';
import { stage } from './stage.js';
import { createTinyPipeline, type TinyPipeline } from './pipeline.fixture.js';

let p: TinyPipeline;
beforeAll(async () => {
  p = await createTinyPipeline();
});
afterAll(() => {
  if (p) rmSync(p.root, { recursive: true, force: true });
});
afterEach(() => {
  process.exitCode = undefined;
  vi.restoreAllMocks();
});

async function cli(args: string[]): Promise<{ stderr: string; exitCode: number | undefined }> {
  let stderr = '';
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stderr += String(chunk);
    return true;
  });
  await yargs(args).command(stageCommand(stage)).command(captionCommand).strictCommands().exitProcess(false).parseAsync();
  vi.restoreAllMocks();
  return { stderr, exitCode: process.exitCode as number | undefined };
}

describe('captioner evaluate', () => {
  it('runs the stage from the configuration and dotted overrides', async () => {
    const { exitCode } = await cli(['evaluate', '--stagesDir', join(p.root, 'stages'), '--backend', 'cpu', '--evaluate.beam', '2', '--evaluate.limit', '3']);
    expect(exitCode).toBeUndefined();
    const metrics = JSON.parse(readFileSync(join(p.outDir, 'metrics.json'), 'utf8'));
    expect(metrics.images).toBe(3);
    expect(metrics.methods.beam.decoding.beam).toBe(2);
  });
  it('reports a missing model as one clear error with exit code 2', async () => {
    const stagesDir = join(p.root, 'empty-stages');
    const { stderr, exitCode } = await cli(['evaluate', '--stagesDir', stagesDir, '--backend', 'cpu']);
    expect(exitCode).toBe(2);
    expect(stderr).toMatch(/error: model folder not found: .*empty-stages\/train\/model/);
    expect(existsSync(join(stagesDir, 'evaluate'))).toBe(false);
  });
});

describe('captioner caption', () => {
  it('fails with exit code 2 and the path for a missing model folder or image', async () => {
    let r = await cli(['caption', join(p.imagesDir, 'a.png'), '--model', join(p.root, 'no-model'), '--backend', 'cpu']);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/model folder not found: .*no-model/);
    process.exitCode = undefined;
    r = await cli(['caption', join(p.root, 'missing.jpg'), '--backend', 'cpu']);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/missing\.jpg: no such file or folder/);
    process.exitCode = undefined;
    r = await cli(['caption', join(p.imagesDir, 'a.png'), '--beam', '0', '--backend', 'cpu']);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/--beam must be a positive integer/);
  });
});
