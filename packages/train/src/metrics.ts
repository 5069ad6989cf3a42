import { existsSync, readFileSync } from 'node:fs';
import { CaptionerError, writeFileAtomic } from '@captioner/core';
import type { EpochMetrics } from './checkpoint.js';

/** Rewrites metrics.jsonl from the run's history (atomic; after a resume it matches the checkpoint). */
export function writeMetricsJsonl(path: string, history: readonly EpochMetrics[]): void {
  writeFileAtomic(path, history.map((m) => JSON.stringify(m)).join('\n') + (history.length ? '\n' : ''));
}

/** Reads metrics.jsonl (one JSON object per epoch); errors name the line. */
export function readMetricsJsonl(path: string): EpochMetrics[] {
  if (!existsSync(path)) throw new CaptionerError(`missing ${path} (run \`captioner train\` first)`);
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line, i) => {
      try {
        return JSON.parse(line) as EpochMetrics;
      } catch (err) {
        throw new CaptionerError(`${path}:${i + 1}: not valid JSON: ${(err as Error).message}`);
      }
    });
}
