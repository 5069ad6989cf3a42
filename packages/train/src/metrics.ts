import { writeFileAtomic, readJsonLines } from '@captioner/core/node';
import { epochMetricsSchema, type EpochMetrics } from './contract.js';

/** Rewrites metrics.jsonl from the run's history (atomic; after a resume it matches the checkpoint). */
export function writeMetricsJsonl(path: string, history: readonly EpochMetrics[]): void {
  writeFileAtomic(path, history.map((m) => JSON.stringify(m)).join('\n') + (history.length ? '\n' : ''));
}

/** Reads metrics.jsonl (one epoch per line, validated by the contract); errors name the line and field. */
export function readMetricsJsonl(path: string): EpochMetrics[] {
  return readJsonLines(path, epochMetricsSchema, 'train');
}
