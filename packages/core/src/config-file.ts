import { existsSync, readFileSync } from 'node:fs';
import * as z from 'zod';
import { CaptionerError } from './errors.js';
import { deepMerge, parseConfig, type PipelineConfig } from './config.js';
import { parseJsonText } from './json.js';

/** Loads and validates a configuration file, applying overrides (already-nested objects) on top. */
export function loadConfig(path: string | undefined, overrides: Record<string, unknown> = {}): PipelineConfig {
  let raw: unknown = {};
  if (path) {
    if (!existsSync(path)) throw new CaptionerError(`config file not found: ${path}`);
    // Validated by parseConfig after the overrides are merged in.
    raw = parseJsonText(readFileSync(path, 'utf8'), z.unknown(), path);
  }
  return parseConfig(deepMerge(raw, overrides), path ?? 'config');
}
