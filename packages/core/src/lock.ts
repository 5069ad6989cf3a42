import { closeSync, mkdirSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { CaptionerError } from './errors.js';
import { log } from './log.js';

/** A held stage-folder lock; release() is idempotent. */
export interface StageLock {
  /** The lock file: `<parent>/.<folder>.lock`, beside the folder (stages may replace the folder). */
  path: string;
  release(): void;
}

/** Where the lock of a stage folder lives. */
export function stageLockPath(dir: string): string {
  return join(dirname(dir), `.${basename(dir)}.lock`);
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readHolder(path: string): number | undefined {
  try {
    const pid = Number(JSON.parse(readFileSync(path, 'utf8')).pid);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined; // vanished, or a half-written lock: treated as stale below
  }
}

/**
 * Takes the lock of a stage folder so two runs never write it at once. The lock file is created
 * with O_EXCL; a second run fails at once naming the folder and the holder's pid. A lock whose pid
 * is dead (a crashed or killed run) is taken over with a notice. Released by release(), on exit,
 * and on SIGINT/SIGTERM when nothing else handles the signal (train does: it exits later and the
 * exit hook releases then).
 */
export function acquireStageLock(dir: string, stage = basename(dir)): StageLock {
  const path = stageLockPath(dir);
  mkdirSync(dirname(path), { recursive: true });
  for (let attempt = 0; ; attempt++) {
    try {
      const fd = openSync(path, 'wx');
      writeSync(fd, JSON.stringify({ pid: process.pid, stage, started: new Date().toISOString(), argv: process.argv.slice(2) }) + '\n');
      closeSync(fd);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0) throw err;
      const holder = readHolder(path);
      if (holder !== undefined && pidAlive(holder)) {
        throw new CaptionerError(`${dir} is being written by another run (pid ${holder}); wait for it to finish or stop it (lock file ${path})`);
      }
      log(stage, `taking over a stale lock on ${dir} (${holder === undefined ? 'unreadable lock file' : `pid ${holder} is not running`})`);
      unlinkSync(path);
    }
  }
  let held = true;
  const release = () => {
    if (!held) return;
    held = false;
    process.off('exit', release);
    for (const signal of SIGNALS) process.off(signal, onSignal);
    try {
      if (readHolder(path) === process.pid) unlinkSync(path);
    } catch {
      // already gone
    }
  };
  const onSignal = (signal: NodeJS.Signals) => {
    // Someone else handles this signal (and decides when to exit): the exit hook releases then.
    if (process.listenerCount(signal) > 1) return;
    release();
    process.kill(process.pid, signal); // our listener is gone: the default action (termination) now
  };
  process.on('exit', release);
  for (const signal of SIGNALS) process.on(signal, onSignal);
  return { path, release };
}

const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM'];

/** Runs `fn` holding the lock of stage folder `dir`; released when it settles. */
export async function withStageLock<T>(dir: string, fn: () => Promise<T> | T, stage?: string): Promise<T> {
  const lock = acquireStageLock(dir, stage);
  try {
    return await fn();
  } finally {
    lock.release();
  }
}
