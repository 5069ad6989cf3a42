import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { workspaceRoot } from '@captioner/core/node';
import { listCheckpoints } from './checkpoint.js';
import { readMetricsJsonl } from './metrics.js';
import { writeFeatureStoreFixture, writeTokensFixture } from './test-fixtures.js';

/*
 * The real CLI in child processes (real CaptionModel, real feature store on disk, wasm backend with
 * one thread so every process computes identically): an interrupted + resumed run must reproduce
 * an uninterrupted run's loss curve exactly.
 */
const root = workspaceRoot();
let dir: string;
const running = new Set<number>();

interface Run {
  code: number | null;
  stderr: string;
}

function runCli(configPath: string, extra: string[] = [], interruptWhen?: (stderr: string) => boolean): Promise<Run> {
  return new Promise((resolve, reject) => {
    // One process, as the `captioner` bin runs it (node --import tsx). Not the tsx CLI (`npx tsx`):
    // it relays Ctrl-C to its child and SIGKILLs the child when it does not answer within ~60 ms,
    // which a busy training step cannot do.
    const child = spawn(process.execPath, ['--import', 'tsx', '--conditions=source', join(root, 'packages/train/src/main.ts'), 'train', '--config', configPath, ...extra], {
      cwd: root,
      env: { ...process.env, CAPTIONER_THREADS: '1', CI: '1' },
      stdio: ['ignore', 'ignore', 'pipe'],
      // Own process group, like a terminal's foreground job (Ctrl-C signals the group); afterAll can kill it.
      detached: true,
    });
    running.add(child.pid!);
    let stderr = '';
    let sent = false;
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      if (interruptWhen && !sent && interruptWhen(stderr)) {
        sent = true;
        process.kill(-child.pid!, 'SIGINT');
      }
    });
    child.on('error', reject);
    child.on('close', (code) => {
      running.delete(child.pid!);
      resolve({ code, stderr });
    });
  });
}

function writeConfig(name: string, stagesDir: string): string {
  const path = join(dir, `${name}.json`);
  writeFileSync(
    path,
    JSON.stringify({
      stagesDir,
      backend: 'wasm',
      model: { embeddingDim: 8, units: 8, attentionUnits: 8 },
      // selectBy valLoss: these stage folders hold no ingest stage (valCIDEr, the default, needs its references).
      train: { epochs: 2, batchSize: 8, bucketChunk: 2, patience: 0, keepLast: 5, selectBy: 'valLoss' },
    }),
  );
  return path;
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'train-cli-'));
  for (const name of ['reference', 'interrupted']) {
    const stages = join(dir, name);
    const fixture = writeTokensFixture(join(stages, 'tokenize'), { train: 60, val: 8, maxLength: 10, vocabSize: 24 });
    writeFeatureStoreFixture(join(stages, 'featurize'), fixture.images, { locations: 4, dim: 6, perShard: 16, failed: ['train-0002.jpg'] });
  }
});
afterAll(() => {
  // A timed-out test must not leave a training process group behind.
  for (const pid of running) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  rmSync(dir, { recursive: true, force: true });
});

describe('captioner train (CLI, child processes)', () => {
  it('SIGINT writes a checkpoint and exits 0; --resume continues the same loss curve', async () => {
    const reference = await runCli(writeConfig('reference', join(dir, 'reference')));
    expect(reference.code, reference.stderr).toBe(0);
    const expected = readMetricsJsonl(join(dir, 'reference', 'train', 'metrics.jsonl'));
    expect(expected).toHaveLength(2);

    const stages = join(dir, 'interrupted');
    const config = writeConfig('interrupted', stages);
    // Interrupt once the first epoch's checkpoint is on disk.
    const first = await runCli(config, [], (err) => /\[train\] epoch 1: train loss/.test(err));
    expect(first.code, first.stderr).toBe(0);
    expect(first.stderr).toMatch(/SIGINT: finishing the current step/);
    expect(first.stderr).toMatch(/interrupted/);
    const checkpoints = listCheckpoints(join(stages, 'train', 'checkpoints'));
    const last = checkpoints.at(-1)!;
    expect(last.state.globalStep).toBeGreaterThan(expected[0].steps);
    expect(last.state.globalStep).toBeLessThan(2 * expected[0].steps);
    expect(existsSync(join(stages, 'train', 'model'))).toBe(false);

    // Dotted config overrides pass through the command line too.
    const resumed = await runCli(config, ['--resume', '--train.keepLast', '1']);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).toMatch(new RegExp(`resuming from ${last.name}`));
    const got = readMetricsJsonl(join(stages, 'train', 'metrics.jsonl'));
    expect(got.map((m) => [m.epoch, m.trainLoss, m.valLoss, m.steps, m.tokens])).toEqual(expected.map((m) => [m.epoch, m.trainLoss, m.valLoss, m.steps, m.tokens]));
    expect(existsSync(join(stages, 'train', 'model'))).toBe(true);
    expect(listCheckpoints(join(stages, 'train', 'checkpoints')).map((c) => c.name)).toEqual(['epoch-0002']);
  });
});
