import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import * as tfWasm from '@tensorflow/tfjs-backend-wasm';
import { CaptionerError } from '@captioner/core';
import { describe, expect, it } from 'vitest';
import { initBackend, resolveBackendRequest, shutdownBackend, tf, type BackendInfo } from './index.js';
import { convWorkload } from './testing/workload.js';

const require = createRequire(import.meta.url);
const isInstalled = (pkg: string) => {
  try {
    require.resolve(pkg);
    return true;
  } catch {
    return false;
  }
};
const nodeBackendInstalled = isInstalled('@tensorflow/tfjs-node-gpu') || isInstalled('@tensorflow/tfjs-node');

describe('resolveBackendRequest', () => {
  it('defaults to auto with one thread per core', () => {
    const request = resolveBackendRequest({}, {});
    expect(request.backend).toBe('auto');
    expect(request.threads).toBeGreaterThanOrEqual(1);
  });

  it('lets CAPTIONER_BACKEND / CAPTIONER_THREADS apply when options do not force', () => {
    expect(resolveBackendRequest({}, { CAPTIONER_BACKEND: 'cpu', CAPTIONER_THREADS: '3' })).toEqual({ backend: 'cpu', threads: 3 });
    expect(resolveBackendRequest({ backend: 'auto' }, { CAPTIONER_BACKEND: 'wasm' }).backend).toBe('wasm');
  });

  it('prefers explicit options over the environment', () => {
    expect(resolveBackendRequest({ backend: 'wasm', threads: 1 }, { CAPTIONER_BACKEND: 'cpu', CAPTIONER_THREADS: '4' })).toEqual({
      backend: 'wasm',
      threads: 1,
    });
  });

  it('names the bad setting', () => {
    expect(() => resolveBackendRequest({}, { CAPTIONER_BACKEND: 'webgl' })).toThrow(/CAPTIONER_BACKEND: unknown backend 'webgl'/);
    expect(() => resolveBackendRequest({}, { CAPTIONER_THREADS: 'two' })).toThrow(/CAPTIONER_THREADS: threads must be a positive integer/);
    expect(() => resolveBackendRequest({ threads: 0 }, {})).toThrow(CaptionerError);
  });
});

// These run in order in one process: TF.js allows one backend initialization per process.
describe('initBackend (sequential, one process)', () => {
  it('rejects (never throws synchronously) on a bad option', async () => {
    let pending: Promise<BackendInfo> | undefined;
    expect(() => {
      pending = initBackend({ threads: -1, quiet: true });
    }).not.toThrow();
    await expect(pending).rejects.toThrow(/initBackend option threads: threads must be a positive integer, got '-1'/);
  });

  it.skipIf(nodeBackendInstalled)('fails clearly when tensorflow is forced but tfjs-node is not installed', async () => {
    const failure = initBackend({ backend: 'tensorflow', quiet: true });
    await expect(failure).rejects.toThrow(CaptionerError);
    await expect(failure).rejects.toThrow(/cannot be loaded[\s\S]*not installed[\s\S]*npm install @tensorflow\/tfjs-node-gpu@4\.22\.0/);
  });

  let info: BackendInfo;
  it('starts wasm with the kernel patches', async () => {
    info = await initBackend({ backend: 'wasm', threads: 1, quiet: true });
    expect(info).toMatchObject({ name: 'wasm', threads: 1 });
    expect(tf.getBackend()).toBe('wasm');
    expect(tfWasm.getThreadsCount()).toBe(1);
    // Patched: runs on wasm instead of throwing "kernel not registered".
    const summed = tf.unsortedSegmentSum(tf.tensor1d([1, 2, 3]), tf.tensor1d([1, 0, 1], 'int32'), 2);
    expect(Array.from(summed.dataSync())).toEqual([2, 4]);
    summed.dispose();
  });

  it('is idempotent and refuses to switch to a different forced backend', async () => {
    expect(await initBackend({ quiet: true })).toBe(info);
    expect(await initBackend({ backend: 'wasm', threads: 2, quiet: true })).toBe(info);
    await expect(initBackend({ backend: 'cpu', quiet: true })).rejects.toThrow(/'cpu' requested, but this process already runs 'wasm'/);
  });

  it('runs 2 real threads in a child process that gives the same conv results and exits on its own', () => {
    const singleThreaded = tf.tidy(() => Array.from(convWorkload().dataSync()));
    const fixture = fileURLToPath(new URL('./testing/conv-fixture.ts', import.meta.url));
    // No process.exit in the fixture: a pthread worker keeping the process alive shows up as a timeout.
    const child = spawnSync(process.execPath, ['--conditions=source', '--import', 'tsx', fixture, 'wasm', '2'], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(child.error, 'child timed out or failed to start').toBeUndefined();
    expect(child.status, child.stderr).toBe(0);
    const threaded = JSON.parse(child.stdout) as { info: BackendInfo; values: number[] };
    expect(threaded.info).toMatchObject({ name: 'wasm', threads: 2 });
    expect(threaded.info.description).toMatch(/threaded-SIMD/);
    expect(threaded.values.length).toBe(singleThreaded.length);
    for (let i = 0; i < singleThreaded.length; i++) expect(threaded.values[i]).toBeCloseTo(singleThreaded[i], 4);
  });

  it('shutdownBackend releases the backend; later initBackend calls fail clearly', async () => {
    await shutdownBackend();
    expect(tf.findBackend('wasm')).toBeNull();
    await expect(initBackend({ quiet: true })).rejects.toThrow(/shut down/);
  });
});
