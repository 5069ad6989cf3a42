import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { CaptionerError } from './errors.js';
import { acquireStageLock, stageLockPath, withStageLock } from './lock.js';

const dirs: string[] = [];
function tempStageDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'stage-lock-'));
  dirs.push(d);
  return join(d, 'stages', 'featurize');
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  vi.restoreAllMocks();
});

/** The pid of a process that has exited. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(r.stdout);
}

describe('stage folder lock', () => {
  it('a second acquisition fails fast naming the folder and the holder pid; free again after release', () => {
    const dir = tempStageDir();
    const first = acquireStageLock(dir);
    expect(first.path).toBe(stageLockPath(dir));
    expect(JSON.parse(readFileSync(first.path, 'utf8')).pid).toBe(process.pid);
    let error: unknown;
    try {
      acquireStageLock(dir);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(CaptionerError);
    expect((error as Error).message).toContain(dir);
    expect((error as Error).message).toContain(`pid ${process.pid}`);
    first.release();
    expect(existsSync(first.path)).toBe(false);
    acquireStageLock(dir).release();
  });

  it('two concurrent runs of withStageLock: one runs, the other is refused', async () => {
    const dir = tempStageDir();
    let release!: () => void;
    const running = withStageLock(dir, () => new Promise<string>((r) => (release = () => r('done'))));
    await expect(withStageLock(dir, () => 'second')).rejects.toThrow(/is being written by another run/);
    release();
    await expect(running).resolves.toBe('done');
    expect(existsSync(stageLockPath(dir))).toBe(false);
  });

  it('releases on error', async () => {
    const dir = tempStageDir();
    await expect(withStageLock(dir, () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(existsSync(stageLockPath(dir))).toBe(false);
  });

  it('takes over a stale lock whose pid is dead, with a notice', () => {
    const dir = tempStageDir();
    const pid = deadPid();
    acquireStageLock(dir).release(); // creates the parent folder
    writeFileSync(stageLockPath(dir), JSON.stringify({ pid }));
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    const lock = acquireStageLock(dir);
    expect(stderr.mock.calls.map((c) => String(c[0])).join('')).toContain(`pid ${pid} is not running`);
    expect(JSON.parse(readFileSync(lock.path, 'utf8')).pid).toBe(process.pid);
    lock.release();
  });

  it('is removed when the holder is stopped by SIGTERM', async () => {
    const dir = tempStageDir();
    const lockModule = fileURLToPath(new URL('./lock.ts', import.meta.url));
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        '--input-type=module',
        '-e',
        `const { acquireStageLock } = await import(${JSON.stringify(lockModule)}); acquireStageLock(${JSON.stringify(dir)}); console.log('held'); setInterval(() => {}, 1000);`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    await new Promise<void>((resolve) => child.stdout!.on('data', (d) => String(d).includes('held') && resolve()));
    expect(existsSync(stageLockPath(dir))).toBe(true);
    expect(() => acquireStageLock(dir)).toThrow(`pid ${child.pid}`);
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
    child.kill('SIGTERM');
    expect(await exited).toBe('SIGTERM');
    expect(existsSync(stageLockPath(dir))).toBe(false);
  }, 30_000);
});
